"""Merchandising rules through the HTTP API (issue 16): boost, bury, pins for
a page, a diversity cap — each changes the list as stated, `count` is still
met, the reason names the rule that placed an item, and a change of rules is
seen at once (the result cache's keys name them)."""
from conftest import ADMIN_TOKEN
from test_training import SCOPES, shop_csvs, train, wait_done


def items_csv():
    """The planted shop's 60 items (P0..P29 cameras, P30..P59 books) with a
    brand, a "sale" tag on every tenth and a season property."""
    rows = ["item_id,name,category,price,brand,tags,season"]
    for i in range(60):
        rows.append(f"P{i},Item {i},{'cameras' if i < 30 else 'books'},{10 + i},{'Acme' if i % 3 == 0 else 'Zeta'},"
                    f"{'sale' if i % 10 == 0 else ''},{'summer' if i % 4 == 0 else 'winter'}")
    return ("\n".join(rows) + "\n").encode()


def setup(make_server):
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    shop = server.onboard("merchant", scopes=SCOPES)
    key = shop["api_key"]
    _, interactions = shop_csvs()
    assert server.upload("/api/v1/upload/items", items_csv(), key).status == 200
    assert server.upload("/api/v1/upload/interactions", interactions, key).status == 200
    assert wait_done(server, key, train(server, key).json()["job_id"])["deployment_status"] == "deployed"
    return server, shop


def rules(server, shop, merchandising):
    return server.admin("PATCH", f"/api/v1/admin/tenants/{shop['tenant']['id']}",
                        {"settings": {"merchandising": merchandising}})


def recs(server, shop, page="home", count=10, user="U0"):
    r = server.request("POST", "/api/v1/recommendations",
                       {"user_id": user, "count": count, "context": {"page": page}, "include_properties": True},
                       token=shop["api_key"])
    assert r.status == 200, r
    return r.json()["recommendations"]


def test_each_rule_changes_the_list_as_stated_and_the_count_is_met(make_server):
    server, shop = setup(make_server)
    base = recs(server, shop)
    assert len(base) == 10
    # U0 likes cameras (the first half): the model's list is mostly cameras.
    assert sum(r["category"] == "cameras" for r in base) >= 7

    # Bury: cameras × 0 — books fill the list (the 40 ranked hold at most 30 cameras).
    assert rules(server, shop, {"rules": [{"name": "no cameras", "action": "bury", "weight": 1,
                                           "when": {"category": "cameras"}}]}).status == 200
    buried = recs(server, shop)
    assert len(buried) == 10
    assert [r["category"] for r in buried] == ["books"] * 10, [r["item_id"] for r in buried]

    # Boost: the sale items (P0, P10, P20, ...) the model ranks at all come first.
    assert rules(server, shop, {"rules": [{"name": "sale", "action": "boost", "weight": 10,
                                           "when": {"tag": "sale"}}]}).status == 200
    boosted = recs(server, shop)
    assert len(boosted) == 10
    on_sale = [r for r in boosted if "sale" in r["tags"]]
    assert on_sale and "sale" in boosted[0]["tags"]
    assert len(on_sale) >= sum("sale" in r["tags"] for r in base)
    assert all("(promoted: sale)" in r["reason"] for r in on_sale)
    assert not any("promoted" in r["reason"] for r in boosted if "sale" not in r["tags"])
    # The order is the model's score × 11 for a sale item: an item above a sale item outscores it so.
    key = [r["score"] * (11 if "sale" in r["tags"] else 1) for r in boosted]
    assert all(a >= b - 1e-4 for a, b in zip(key, key[1:])), key  # scores are shown rounded

    # A property condition: summer items (every fourth) boosted, on the home page only.
    assert rules(server, shop, {"rules": [{"name": "summer", "action": "boost", "weight": 10, "pages": ["home"],
                                           "when": {"property": "season", "property_equals": "summer"}}]}).status == 200
    summer = recs(server, shop)
    in_season = [r for r in summer if r["properties"]["season"] == "summer"]
    assert len(in_season) >= sum(r["properties"]["season"] == "summer" for r in base)
    assert in_season and all("(promoted: summer)" in r["reason"] for r in in_season)
    key = [r["score"] * (11 if r["properties"]["season"] == "summer" else 1) for r in summer]
    assert all(a >= b - 1e-4 for a, b in zip(key, key[1:])), key
    assert [r["item_id"] for r in recs(server, shop, page="cart")] == [r["item_id"] for r in base]

    # A pin: P59 (a book U0 would not be shown) first on the home page, not elsewhere.
    assert rules(server, shop, {"rules": [{"name": "hero", "action": "pin", "item_id": "P59", "position": 1,
                                           "pages": ["home"]}]}).status == 200
    pinned = recs(server, shop)
    assert pinned[0]["item_id"] == "P59" and pinned[0]["reason"] == "Featured by the shop (hero)"
    assert len(pinned) == 10 and [r["item_id"] for r in pinned[1:]] == [r["item_id"] for r in base[:9]]
    assert recs(server, shop, page="product")[0]["item_id"] != "P59"

    # Diversity: at most 4 of a category in the list, still 10 items.
    assert rules(server, shop, {"diversity": {"max_per_category": 4}}).status == 200
    varied = recs(server, shop, count=8)
    assert len(varied) == 8
    assert sum(r["category"] == "cameras" for r in varied) == 4
    assert sum(r["category"] == "books" for r in varied) == 4

    # No rules: the model's list again.
    assert rules(server, shop, None).status == 200
    assert [r["item_id"] for r in recs(server, shop)] == [r["item_id"] for r in base]


def test_bad_rules_are_refused_naming_the_field_and_change_nothing(make_server):
    server, shop = setup(make_server)
    before = recs(server, shop)
    for bad, field in [
        ({"rules": [{"action": "shout"}]}, "settings.merchandising.rules[0].action"),
        ({"rules": [{"action": "boost", "weight": 1, "when": {}}]}, "settings.merchandising.rules[0].when"),
        ({"rules": [{"action": "bury", "weight": 5, "when": {"tag": "x"}}]}, "settings.merchandising.rules[0].weight"),
        ({"rules": [{"action": "pin", "position": 2}]}, "settings.merchandising.rules[0].item_id"),
        ({"diversity": {"max_per_category": -1}}, "settings.merchandising.diversity.max_per_category"),
        ("boost everything", "settings.merchandising"),
    ]:
        r = rules(server, shop, bad)
        assert r.status in (400, 422), (bad, r)
        assert r.json()["error"]["details"]["field"] == field, (bad, r)
    assert [r["item_id"] for r in recs(server, shop)] == [r["item_id"] for r in before]


def test_a_strategy_arm_serves_its_own_rules_and_its_promotion_makes_them_the_shops(make_server):
    server, shop = setup(make_server)
    key = shop["api_key"]
    deployed = server.request("GET", "/api/v1/models", token=key, port="ml").json()["serving_version"]
    r = server.request("POST", "/api/v1/experiments",
                       {"name": "diversity on", "challenger": deployed, "traffic_share": 0.5,
                        "challenger_settings": {"merchandising": {"diversity": {"max_per_category": 2}}}},
                       token=key, port="ml")
    assert r.status == 201, r
    exp = r.json()
    assert exp["control"] == exp["challenger"] == deployed
    # The planted users like one category each: with the cap, a challenger's list alternates.
    arms = {}
    for u in range(40):
        a = server.request("POST", "/api/v1/recommendations", {"user_id": f"U{u}", "count": 6},
                           token=key).json()
        arms[f"U{u}"] = a
        assert a["metadata"]["experiment_id"] == exp["experiment_id"] and a["metadata"]["model_version"] == deployed
        first4 = [x["category"] for x in a["recommendations"][:4]]
        assert len(a["recommendations"]) == 6
        if a["metadata"]["arm"] == "challenger":
            assert first4.count("cameras") == 2 and first4.count("books") == 2, first4
    control = [u for u, a in arms.items() if a["metadata"]["arm"] == "control"]
    assert control and len(control) < 40
    assert any(max([x["category"] for x in arms[u]["recommendations"][:4]].count(c) for c in ("cameras", "books")) > 2
               for u in control)

    promoted = server.request("POST", f"/api/v1/experiments/{exp['experiment_id']}/promote", token=key, port="ml")
    assert promoted.status == 200 and promoted.json()["status"] == "promoted", promoted
    tenant = server.admin("GET", f"/api/v1/admin/tenants/{shop['tenant']['id']}").json()
    assert tenant["settings"]["merchandising"] == {"diversity": {"max_per_category": 2}}
    for u in control[:5]:
        a = server.request("POST", "/api/v1/recommendations", {"user_id": u, "count": 6}, token=key).json()
        assert a["metadata"]["arm"] is None
        first4 = [x["category"] for x in a["recommendations"][:4]]
        assert first4.count("cameras") == 2 and first4.count("books") == 2, first4
