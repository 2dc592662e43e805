"""Seed steps 7-8 through the HTTP API: recommendations, similar and popular
items, filters, exclusions, cold start, real-time fold-in, the result cache
and model swaps under load."""
import json
import re
import threading

import pytest

from test_training import SCOPES, shop_csvs, train, wait_done

# Items P0..P29 are cameras, P30..P59 books (shop_csvs); even users like cameras.
CAMERAS = {f"P{i}" for i in range(30)}


def items_csv_with_attributes():
    rows = ["item_id,name,category,price,brand,tags,stock"]
    for i in range(60):
        cat = "cameras" if i < 30 else "books"
        brand = "Acme" if i % 3 == 0 else "Globex"
        tags = "sale|new" if i % 5 == 0 else "classic"
        stock = 0 if i % 7 == 0 else 10
        rows.append(f"P{i},Item {i},{cat},{10 + i},{brand},{tags},{stock}")
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def trained(server):
    o = server.onboard("serve", scopes=SCOPES + ["interactions:write"])
    _, interactions = shop_csvs()
    assert server.upload("/api/v1/upload/items", items_csv_with_attributes(), o["api_key"]).status == 200
    assert server.upload("/api/v1/upload/interactions", interactions, o["api_key"]).status == 200
    done = wait_done(server, o["api_key"], train(server, o["api_key"]).json()["job_id"])
    assert done["deployment_status"] == "deployed"
    o["version"] = done["model_version"]
    return o


def recommend(server, key, body):
    r = server.request("POST", "/api/v1/recommendations", body, token=key)
    assert r.status == 200, r
    return r.json()


def test_personalised_recommendations_follow_taste_and_are_well_formed(server, trained):
    raw = server.request("POST", "/api/v1/recommendations", {"user_id": "U0", "count": 10},
                         token=trained["api_key"]).body
    # Numbers as people write them ("price":12.0 → 12, 0.5), not "1.2E1".
    text = raw.decode() if isinstance(raw, bytes) else raw
    # (The random recommendation_id may hold "E1": only numbers are checked.)
    numbers = re.findall(r':(-?[0-9][0-9.eE+-]*)[,}\]]', text)
    assert re.search(r'"price":\d+(\.\d+)?[,}]', text) and numbers, text
    assert not [n for n in numbers if "e" in n.lower()], numbers
    a = recommend(server, trained["api_key"], {"user_id": "U0", "count": 10})
    recs = a["recommendations"]
    assert len(recs) == 10
    assert sum(r["item_id"] in CAMERAS for r in recs) >= 8  # U0 likes cameras
    scores = [r["score"] for r in recs]
    assert all(0 <= s <= 1 for s in scores) and scores == sorted(scores, reverse=True)
    # Calibrated on held-out choices: probabilities that tell items apart, not a saturated 1.0.
    assert scores[0] < 0.99 and len(set(scores)) >= 5, scores
    for r in recs:
        assert r["name"] and r["category"] and r["price"] is not None and r["reason"]
    m = a["metadata"]
    assert m["model_version"] == trained["version"] and m["algorithm"] == "lightgcn"
    assert m["recommendation_id"].startswith("rec_") and m["latency_ms"] >= 0
    b = recommend(server, trained["api_key"], {"user_id": "U1", "count": 10})
    assert sum(r["item_id"] not in CAMERAS for r in b["recommendations"]) >= 8
    # Reasons come from evidence: U0's purchases are cameras.
    assert any(r["reason"] == "Based on your recent cameras purchases" for r in recs), recs


@pytest.mark.parametrize("filters,check", [
    ({"category": "books"}, lambda r: r["category"] == "books"),
    ({"categories": ["books"], "price_max": 55}, lambda r: r["category"] == "books" and r["price"] <= 55),
    ({"price_min": 20, "price_max": 30}, lambda r: 20 <= r["price"] <= 30),
    ({"min_price": 20, "max_price": 30}, lambda r: 20 <= r["price"] <= 30),
    ({"brand": "Acme"}, lambda r: int(r["item_id"][1:]) % 3 == 0),
    ({"tags_any": ["sale"]}, lambda r: int(r["item_id"][1:]) % 5 == 0),
    ({"in_stock_only": True}, lambda r: int(r["item_id"][1:]) % 7 != 0),
    ({"exclude_item_ids": [f"P{i}" for i in range(25)]}, lambda r: int(r["item_id"][1:]) >= 25),
    ({"include_item_ids": ["P40", "P41", "P42", "P43", "P44"]}, lambda r: r["item_id"] in
     {"P40", "P41", "P42", "P43", "P44"}),
])
def test_each_filter_is_honoured_and_still_fills_count(server, trained, filters, check):
    key = trained["api_key"]
    want = 5 if "include_item_ids" in filters else 8
    a = recommend(server, key, {"user_id": "U0", "count": want, "filters": filters})
    recs = a["recommendations"]
    assert len(recs) == want, (filters, recs)
    assert all(check(r) for r in recs), (filters, recs)
    scores = [r["score"] for r in recs]
    assert scores == sorted(scores, reverse=True)


def test_a_filter_the_server_does_not_know_is_refused_naming_the_one_meant(server, trained):
    # Ignoring it would answer items outside what the shop asked for.
    key = trained["api_key"]
    for path, body in (("/api/v1/recommendations", {"user_id": "U0"}),
                       ("/api/v1/recommendations/batch", {"user_ids": ["U0", "U1"]}),
                       ("/api/v1/recommendations/similar", {"item_id": "P3"})):
        r = server.request("POST", path, {**body, "filters": {"in_stock": True, "category": "books"}}, token=key)
        assert r.status == 422, (path, r)
        err = r.json()["error"]
        assert err["details"]["field"] == "filters.in_stock", err
        assert err["details"]["did_you_mean"] == "filters.in_stock_only", err
        assert "price_min" in err["details"]["known_fields"], err
        r = server.request("POST", path, {**body, "filters": {"colour": "red"}}, token=key)
        assert r.status == 422 and "did_you_mean" not in r.json()["error"]["details"], r
        assert server.request("POST", path, {**body, "filters": {"in_stock_only": True}}, token=key).status == 200
        # A misspelt field of the request itself is refused too; an unrelated one is ignored.
        r = server.request("POST", path, {**body, "filter": {"category": "books"}}, token=key)
        assert r.status == 422 and r.json()["error"]["details"]["did_you_mean"] == "filters", r
        assert server.request("POST", path, {**body, "session_id": "s-1"}, token=key).status == 200
        # limit: count by the name many APIs use.
        r = server.request("POST", path, {**body, "limit": 3}, token=key)
        assert r.status == 200, r
        answers = r.json()["results"] if "results" in r.json() else [r.json()]
        assert all(len(a.get("recommendations", a.get("similar_items", []))) == 3 for a in answers), r.json()
        assert server.request("POST", path, {**body, "limit": 3, "count": 4}, token=key).status == 422
        # min_price / max_price: price_min / price_max by the other name; both differing is refused.
        r = server.request("POST", path, {**body, "filters": {"price_min": 10, "min_price": 20}}, token=key)
        assert r.status == 422 and r.json()["error"]["details"]["field"] == "filters.min_price", r


def test_purchased_items_are_excluded(server, trained):
    key = trained["api_key"]
    bought = {e["item_id"] for e in server.request("GET", "/api/v1/users/U0/interactions?limit=100",
                                                   token=key).json().get("interactions", [])
              if e["interaction_type"] == "purchase"}
    recs = recommend(server, key, {"user_id": "U0", "count": 30})["recommendations"]
    assert bought and not bought & {r["item_id"] for r in recs}


def test_item_properties_on_request(server, trained):
    key = trained["api_key"]
    plain = recommend(server, key, {"user_id": "U0", "count": 3})["recommendations"]
    assert all("brand" not in r and "properties" not in r for r in plain)
    full = recommend(server, key, {"user_id": "U0", "count": 3, "include_properties": True})
    for r in full["recommendations"]:
        i = int(r["item_id"][1:])
        assert r["brand"] == ("Acme" if i % 3 == 0 else "Globex")
        assert r["tags"] == (["sale", "new"] if i % 5 == 0 else ["classic"])
        assert r["available"] is True and r["properties"]["stock"] in ("0", "10")  # CSV values are text


def test_cold_start_and_fold_in_after_a_few_views(server, trained):
    key = trained["api_key"]
    cold = recommend(server, key, {"user_id": "brand-new", "count": 10})
    assert cold["metadata"]["algorithm"] == "trending"
    assert len(cold["recommendations"]) == 10
    assert all(r["reason"].startswith("Trending in ") for r in cold["recommendations"])
    # A newcomer views five books: the next call is book-heavy.
    for i in (31, 35, 40, 47, 52):
        r = server.request("POST", "/api/v1/interactions",
                           {"user_id": "reader-1", "item_id": f"P{i}", "interaction_type": "view"},
                           token=key)
        assert r.status == 201, r
    a = recommend(server, key, {"user_id": "reader-1", "count": 10})
    assert a["metadata"]["algorithm"] == "lightgcn"
    assert sum(r["item_id"] not in CAMERAS for r in a["recommendations"]) >= 8, a


def test_context_current_item_blends_in_similar_items(server, trained):
    # A visitor on a product page: the page's item steers the list.
    a = recommend(server, trained["api_key"], {"user_id": "visitor-on-P45", "count": 5,
                                               "context": {"current_item": "P45", "page": "product"}})
    recs = a["recommendations"]
    assert "P45" not in {r["item_id"] for r in recs}
    assert any(r["reason"] == "Similar to Item 45" for r in recs), [(r["item_id"], r["reason"]) for r in recs]
    # A known user there: never the item itself. (How far the page moves a
    # strong history is the model's call: from none to all of the list in
    # these trainings; issue 12's note.)
    a = recommend(server, trained["api_key"], {"user_id": "U0", "count": 10,
                                               "context": {"current_item": "P45", "page": "product"}})
    assert "P45" not in {r["item_id"] for r in a["recommendations"]}


def test_similar_items(server, trained):
    key = trained["api_key"]
    r = server.request("POST", "/api/v1/recommendations/similar", {"item_id": "P3", "count": 5}, token=key)
    assert r.status == 200, r
    a = r.json()
    sims = a["similar_items"]
    assert len(sims) == 5 and "P3" not in {s["item_id"] for s in sims}
    assert sum(s["item_id"] in CAMERAS for s in sims) >= 4
    scores = [s["similarity_score"] for s in sims]
    assert all(0 <= s <= 1 for s in scores) and scores == sorted(scores, reverse=True)
    r = server.request("POST", "/api/v1/recommendations/similar",
                       {"item_id": "P3", "count": 5, "filters": {"category": "books"}}, token=key)
    assert all(s["category"] == "books" for s in r.json()["similar_items"])
    r = server.request("POST", "/api/v1/recommendations/similar", {"item_id": "nope"}, token=key)
    assert r.status == 404


def test_similar_items_of_an_item_the_model_has_not_seen(server, trained):
    key = trained["api_key"]
    new = ('item_id,name,category,price\nP60,Item 60,cameras,70\n'
           'P61,"Lens ""Pro"" \\ é\u2014 61",cameras,71.5\n').encode()
    assert server.upload("/api/v1/upload/items", new, key).status == 200
    popular = server.request("GET", "/api/v1/recommendations/popular?category=cameras&count=50",
                             token=key).json()["recommendations"]
    r = server.request("POST", "/api/v1/recommendations/similar", {"item_id": "P60", "count": 40}, token=key)
    assert r.status == 200, r
    a = r.json()
    assert a["metadata"]["algorithm"] == "category_trending"
    ids = [s["item_id"] for s in a["similar_items"]]
    # Every other camera (P0..P29 trained, P61 new), none twice, never P60, in popularity order.
    assert len(ids) == 31 and len(set(ids)) == 31 and "P60" not in ids
    assert all(s["category"] == "cameras" for s in a["similar_items"])
    assert ids == [p["item_id"] for p in popular if p["item_id"] != "P60"]
    assert ids[-1] == "P61"  # untouched: after every trending camera
    last = a["similar_items"][-1]
    assert last["name"] == 'Lens "Pro" \\ é\u2014 61' and last["price"] == 71.5  # escaped, read back


def test_default_exclusion_follows_the_data(server):
    """A ratings-only tenant (no purchase ever) is not shown what a user
    already rated; once the tenant tracks a purchase, only purchases are
    excluded ("auto", the default)."""
    o = server.onboard("ratings", scopes=SCOPES + ["interactions:write"])
    key = o["api_key"]
    assert o["tenant"]["settings"]["exclude_from_recommendations"] == "auto"
    rows = ["user_id,item_id,interaction_type,timestamp,rating"]
    for u in range(10):  # everyone rated P0..P4 (the most popular), then a few others
        rows += [f"R{u},P{i},rating,{1_700_000_000 + 60 * (5 * u + i)},4" for i in range(5)]
        rows += [f"R{u},P{10 + (u + k) % 40},rating,{1_700_100_000 + 60 * (3 * u + k)},3" for k in range(3)]
    server.upload("/api/v1/upload/items", items_csv_with_attributes(), key)
    up = server.upload("/api/v1/upload/interactions", ("\n".join(rows) + "\n").encode(), key).json()
    assert up["rows_accepted"] == 80, up
    rated = {"P0", "P1", "P2", "P3", "P4"} | {f"P{10 + k % 40}" for k in range(3)}
    recs = {r["item_id"] for r in recommend(server, key, {"user_id": "R0", "count": 40})["recommendations"]}
    assert recs and not recs & rated, recs
    # The first purchase: rated items are fair game again (R0 bought none of them).
    r = server.request("POST", "/api/v1/interactions",
                       {"user_id": "buyer", "item_id": "P30", "interaction_type": "purchase"}, token=key)
    assert r.status == 201, r
    server.request("POST", "/api/v1/interactions",  # a new event of R0's: not the cached answer
                   {"user_id": "R0", "item_id": "P31", "interaction_type": "view"}, token=key)
    recs = {r["item_id"] for r in recommend(server, key, {"user_id": "R0", "count": 40})["recommendations"]}
    assert {"P0", "P1", "P2", "P3", "P4"} <= recs, recs


def test_popular_and_no_model_answers(server):
    o = server.onboard("nomodel", scopes=SCOPES + ["interactions:write"])
    _, interactions = shop_csvs()
    server.upload("/api/v1/upload/items", items_csv_with_attributes(), o["api_key"])
    server.upload("/api/v1/upload/interactions", interactions, o["api_key"])
    key = o["api_key"]
    a = recommend(server, key, {"user_id": "U0", "count": 5})
    assert a["metadata"]["algorithm"] == "popularity" and a["metadata"]["model_version"] is None
    assert len(a["recommendations"]) == 5
    r = server.request("GET", "/api/v1/recommendations/popular?category=books&count=4", token=key)
    assert r.status == 200, r
    pop = r.json()["recommendations"]
    assert len(pop) == 4 and all(p["category"] == "books" for p in pop)
    # A burst of purchases moves an item to the top at once.
    for u in range(30):
        server.request("POST", "/api/v1/interactions",
                       {"user_id": f"buyer{u}", "item_id": "P59", "interaction_type": "purchase"}, token=key)
    top = server.request("GET", "/api/v1/recommendations/popular?count=1", token=key).json()
    assert top["recommendations"][0]["item_id"] == "P59"
    books = server.request("GET", "/api/v1/recommendations/popular?category=books&count=30",
                           token=key).json()["recommendations"]
    assert books[0]["item_id"] == "P59" and len(books) == 30
    assert [b["score"] for b in books] == sorted((b["score"] for b in books), reverse=True)


def test_batch(server, trained):
    r = server.request("POST", "/api/v1/recommendations/batch",
                       {"user_ids": ["U0", "U1", "stranger"], "count": 3}, token=trained["api_key"])
    assert r.status == 200, r
    res = r.json()["results"]
    assert [x["user_id"] for x in res] == ["U0", "U1", "stranger"]
    assert all(len(x["recommendations"]) == 3 for x in res)
    r = server.request("POST", "/api/v1/recommendations/batch",
                       {"user_ids": [f"u{i}" for i in range(101)]}, token=trained["api_key"])
    assert r.status == 422


def test_cache_hit_then_invalidated_by_an_interaction(server, trained):
    key = trained["api_key"]
    body = {"user_id": "U2", "count": 5}
    first = recommend(server, key, body)
    second = recommend(server, key, body)
    assert (first["metadata"]["cache"], second["metadata"]["cache"]) == ("miss", "hit")
    assert second["recommendations"] == first["recommendations"]
    assert second["metadata"]["recommendation_id"] != first["metadata"]["recommendation_id"]
    server.request("POST", "/api/v1/interactions",
                   {"user_id": "U2", "item_id": "P50", "interaction_type": "view"}, token=key)
    assert recommend(server, key, body)["metadata"]["cache"] == "miss"
    metrics = server.request("GET", "/metrics").body
    assert 'embedrec_recommendation_cache_total{result="hit"}' in metrics
    assert "embedrec_recommendation_requests_total{" in metrics


@pytest.mark.parametrize("body,status", [
    ({}, 400),
    ({"user_id": "U0", "count": 0}, 422),
    ({"user_id": "U0", "count": 51}, 422),
    ({"user_id": "U0", "filters": {"price_min": "cheap"}}, 400),
    ({"user_id": "U0", "filters": {"price_min": 50, "price_max": 10}}, 422),
    ({"user_id": "U0", "model_version": "v9.9_20990101"}, 422),
])
def test_bad_requests(server, trained, body, status):
    r = server.request("POST", "/api/v1/recommendations", body, token=trained["api_key"])
    assert r.status == status, r
    assert "error" in r.json()


def test_model_swap_under_load_fails_no_request(server, trained):
    key = trained["api_key"]
    v1 = trained["version"]
    v2 = wait_done(server, key, train(server, key, deploy_tolerance=1).json()["job_id"])["model_version"]
    failures, versions, stop = [], set(), threading.Event()

    def hammer(n):
        while not stop.is_set():
            r = server.request("POST", "/api/v1/recommendations",
                               {"user_id": f"U{n}", "count": 5, "tenant_id": trained["tenant"]["id"]},
                               token=key)
            if r.status != 200 or len(r.json()["recommendations"]) != 5:
                failures.append(r)
            else:
                versions.add(r.json()["metadata"]["model_version"])

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for i in range(10):
        v = v1 if i % 2 == 0 else v2
        r = server.request("POST", f"/api/v1/models/{v}/deploy", token=key, port="ml")
        assert r.status == 200, r
    stop.set()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert versions == {v1, v2}


def test_context_reranks_by_what_is_chosen_in_that_context(server, trained):
    key = trained["api_key"]
    recommend(server, key, {"user_id": "U0", "count": 1})  # the catalog is in memory from now on
    events = []
    for u in range(60):
        events.append({"user_id": f"m{u}", "item_id": f"P{30 + u % 30}", "interaction_type": "view",
                       "context": {"device": "mobile"}})
        events.append({"user_id": f"d{u}", "item_id": f"P{u % 30}", "interaction_type": "view",
                       "context": {"device": "desktop"}})
    r = server.request("POST", "/api/v1/interactions/batch", {"events": events}, token=key)
    assert r.status == 200 and r.json()["tracked"] == 120, r

    # A newcomer with mixed taste (a camera and a book), where context can tip the balance.
    for item in ("P3", "P40"):
        server.request("POST", "/api/v1/interactions",
                       {"user_id": "mixed", "item_id": item, "interaction_type": "view"}, token=key)

    def books_in_top(device):
        recs = recommend(server, key, {"user_id": "mixed", "count": 20,
                                       "context": {"device": device}})["recommendations"]
        scores = [x["score"] for x in recs]
        assert scores == sorted(scores, reverse=True)
        return sum(x["item_id"] not in CAMERAS for x in recs[:10])

    mobile, desktop = books_in_top("mobile"), books_in_top("desktop")
    assert mobile > desktop, (mobile, desktop)
    # Deterministic: the same request, the same answer.
    assert books_in_top("mobile") == mobile


def test_every_answer_is_logged_with_what_it_showed(server, trained):
    key = trained["api_key"]
    a = recommend(server, key, {"user_id": "U0", "count": 5, "context": {"page": "home", "device": "mobile"}})
    rid = a["metadata"]["recommendation_id"]
    r = server.request("GET", f"/api/v1/recommendations/log/{rid}", token=key)
    assert r.status == 200, r
    log = r.json()
    assert log["recommendation_id"] == rid and log["endpoint"] == "recommendations"
    assert log["user_id"] == "U0" and log["model_version"] == trained["version"]
    assert [i["item_id"] for i in log["items"]] == [x["item_id"] for x in a["recommendations"]]
    assert [i["position"] for i in log["items"]] == [1, 2, 3, 4, 5]
    assert [i["score"] for i in log["items"]] == [x["score"] for x in a["recommendations"]]
    assert log["context"] == {"page": "home", "device": "mobile"}
    # Similar items carry an id too, logged with the item as context.
    s = server.request("POST", "/api/v1/recommendations/similar", {"item_id": "P3", "count": 4}, token=key).json()
    sid = s["metadata"]["recommendation_id"]
    slog = server.request("GET", f"/api/v1/recommendations/log/{sid}", token=key).json()
    assert slog["endpoint"] == "similar" and slog["user_id"] is None
    assert [i["item_id"] for i in slog["items"]] == [x["item_id"] for x in s["similar_items"]]
    assert slog["context"] == {"current_item": "P3"}
    # Each answer of a batch is its own record.
    b = server.request("POST", "/api/v1/recommendations/batch", {"user_ids": ["U1", "U2"], "count": 3},
                       token=key).json()
    ids = [x["metadata"]["recommendation_id"] for x in b["results"]]
    assert len(set(ids)) == 2
    for x, rid2 in zip(b["results"], ids):
        got = server.request("GET", f"/api/v1/recommendations/log/{rid2}", token=key).json()
        assert got["user_id"] == x["user_id"]
    # Unknown ids, and another tenant's, are 404.
    assert server.request("GET", "/api/v1/recommendations/log/rec_nope", token=key).status == 404
    other = server.onboard("other-shop", scopes=SCOPES)
    r = server.request("GET", f"/api/v1/recommendations/log/{rid}", token=other["api_key"])
    assert r.status == 404, r


def test_an_item_changed_or_added_through_put_is_served_at_once(server, trained):
    """PUT /api/v1/items/{id} reaches serving on the next request: an item
    made unavailable is no longer recommended, a price change shows, and a
    new item can be asked for (the catalog is not left to its next re-read)."""
    key = trained["api_key"]
    first = recommend(server, key, {"user_id": "U0", "count": 10})["recommendations"][0]
    item = server.request("GET", f"/api/v1/items/{first['item_id']}", token=key).json()
    body = {k: item[k] for k in ("name", "category", "price") if k in item}
    r = server.request("PUT", f"/api/v1/items/{first['item_id']}", {**body, "available": False}, token=key)
    assert r.status == 200, r
    again = recommend(server, key, {"user_id": "U0", "count": 10})["recommendations"]
    assert first["item_id"] not in {x["item_id"] for x in again}
    popular = server.request("GET", "/api/v1/recommendations/popular?count=50", token=key).json()
    assert first["item_id"] not in {x["item_id"] for x in popular["recommendations"]}
    second = again[0]["item_id"]
    assert server.request("PUT", f"/api/v1/items/{second}", {"name": "Renamed", "category": "cameras",
                                                             "price": 1234.5}, token=key).status == 200
    shown = {x["item_id"]: x for x in recommend(server, key, {"user_id": "U0", "count": 10})["recommendations"]}
    assert shown[second]["price"] == 1234.5 and shown[second]["name"] == "Renamed"
    assert server.request("PUT", "/api/v1/items/NEW_1", {"name": "New", "category": "cameras", "price": 5},
                          token=key).status == 201
    similar = server.request("POST", "/api/v1/recommendations/similar", {"item_id": "NEW_1", "count": 5}, token=key)
    assert similar.status == 200, similar
