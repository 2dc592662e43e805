"""Seed steps 8b, 8d, 8e: real-time tracking through the HTTP API."""
import signal
import threading

import pytest

from conftest import ADMIN_TOKEN, Server
from test_upload_items import SEED_CSV


@pytest.fixture
def shop(server):
    o = server.onboard("live", scopes=["interactions:write", "data:write", "recommendations:read"])
    assert server.upload("/api/v1/upload/items", SEED_CSV, o["api_key"]).status == 200
    return o


def track(server, shop, body, **kw):
    return server.request("POST", "/api/v1/interactions", body, token=shop["api_key"], **kw)


def user_events(server, shop):
    evs = server.request("GET", "/api/v1/data/events", token=shop["api_key"]).json()["events"]
    return [e for e in evs if e["topic"] == "user-interactions"]


def test_seed_steps_8b_8d_8e(server, shop):
    r = track(server, shop, {"user_id": "USER_JOHN_001", "item_id": "PROD_001",
                             "interaction_type": "view", "timestamp": "2024-01-16T19:23:45Z",
                             "context": {"source": "homepage_recommendations", "device": "mobile"}})
    assert r.status == 201, r
    a = r.json()
    assert a["status"] == "tracked" and a["interaction_id"].startswith("int_")
    assert a["processed_at"].endswith("Z") and "next_actions" not in a
    r = track(server, shop, {"user_id": "USER_JOHN_001", "item_id": "PROD_001",
                             "interaction_type": "add_to_cart", "timestamp": "2024-01-16T19:25:30Z"})
    assert r.status == 201
    r = track(server, shop, {"user_id": "USER_JOHN_001", "item_id": "PROD_001",
                             "interaction_type": "purchase", "timestamp": "2024-01-16T19:30:00Z",
                             "metadata": {"order_id": "ORD_98765", "price": 99.99, "quantity": 1}})
    assert r.status == 201
    assert r.json()["next_actions"] == {"retrain_recommended": False, "incremental_update": True}
    assert [e["payload"]["type"] for e in user_events(server, shop)] == ["view", "add_to_cart", "purchase"]
    q = server.request("GET", "/api/v1/data/quality", token=shop["api_key"]).json()
    assert q["counts"]["interactions"] == 3 and q["counts"]["users"] == 1


def test_a_purchases_price_and_quantity_count_where_the_csv_has_them_too(server, shop):
    # As the upload's columns (price or value, quantity), not only in metadata: a
    # purchase's revenue is not dropped for where the shop's code put it.
    for user, extra in (("U1", {"price": 25.5, "quantity": 2}), ("U2", {"value": 10}),
                        ("U3", {"metadata": {"price": 7, "quantity": 3}}),
                        ("U4", {"price": 7, "metadata": {"price": 7}}),
                        # Decimals as back ends often serialise them: strings.
                        ("U5", {"price": "12.99", "quantity": "2"}), ("U6", {"metadata": {"price": "1.299,50"}}),
                        ("U7", {"price": "7", "metadata": {"price": 7}})):
        r = track(server, shop, {"user_id": user, "item_id": "PROD_001", "interaction_type": "purchase", **extra})
        assert r.status == 201, (extra, r)
    got = {}
    for user in ("U1", "U2", "U3", "U4", "U5", "U6", "U7"):
        (ev,) = server.request("GET", f"/api/v1/users/{user}/interactions", token=shop["api_key"]).json()["interactions"]
        got[user] = (ev.get("value"), ev.get("quantity"))
    assert got == {"U1": (25.5, 2), "U2": (10, None), "U3": (7, 3), "U4": (7, None), "U5": (12.99, 2),
                   "U6": (1299.5, None), "U7": (7, None)}, got


def test_a_type_in_another_spelling_or_by_its_standard_event_name_is_read(server, shop):
    for raw, stored in (("Add To Cart", "add_to_cart"), ("Product Viewed", "view"), ("view_item", "view")):
        r = track(server, shop, {"user_id": "S1", "item_id": "PROD_001", "interaction_type": raw,
                                 "timestamp": f"2024-01-16T19:2{len(raw) % 10}:00Z"})
        assert r.status == 201, (raw, r)
    types = [e["payload"]["type"] for e in user_events(server, shop)]
    assert sorted(types) == ["add_to_cart", "view", "view"], types
    r = track(server, shop, {"user_id": "S1", "item_id": "PROD_001", "interaction_type": "purchse"})
    assert r.status == 422 and "did you mean 'purchase'?" in r.json()["error"]["message"], r


def test_unknown_items_and_auto_creation(server, shop):
    r = track(server, shop, {"user_id": "U", "item_id": "NOPE", "interaction_type": "view"})
    assert r.status == 404 and r.json()["error"]["code"] == "unknown_item"
    server.admin("PATCH", f"/api/v1/admin/tenants/{shop['tenant']['id']}",
                 {"settings": {"auto_create_items": True}})
    r = track(server, shop, {"user_id": "U", "item_id": "NOPE", "interaction_type": "view"})
    assert r.status == 201, r
    assert server.request("GET", "/api/v1/items/NOPE", token=shop["api_key"]).status == 200
    r = track(server, shop, {"user_id": "U", "interaction_type": "recommendations_shown"})
    assert r.status == 201, r


def test_duplicates_and_idempotency_keys_count_once(server, shop):
    ev = {"user_id": "U1", "item_id": "PROD_002", "interaction_type": "view",
          "timestamp": "2024-01-16T10:00:00Z"}
    first = track(server, shop, ev).json()
    again = track(server, shop, ev)
    assert again.status == 200 and again.json()["status"] == "duplicate"
    assert again.json()["interaction_id"] == first["interaction_id"]
    # A retry without a timestamp would get a new "now": the key makes it count once.
    retry = {"user_id": "U2", "item_id": "PROD_002", "interaction_type": "click"}
    a = track(server, shop, retry, headers={"Idempotency-Key": "req-42"})
    b = track(server, shop, retry, headers={"Idempotency-Key": "req-42"})
    assert a.status == 201 and b.status == 200
    assert b.json()["interaction_id"] == a.json()["interaction_id"]
    assert b.json()["idempotent_replay"] is True
    assert len(user_events(server, shop)) == 2


@pytest.mark.parametrize("body,status", [
    ({"item_id": "PROD_001", "interaction_type": "view"}, 400),
    ({"user_id": "U", "item_id": "PROD_001"}, 400),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "teleport"}, 422),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "view", "timestamp": "yesterday"}, 422),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "view",
      "timestamp": "2999-01-01T00:00:00Z"}, 422),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "rating", "rating": 9}, 422),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "rating"}, 422),
    ({"user_id": "U", "interaction_type": "view"}, 400),
    ({"user_id": 5, "item_id": "PROD_001", "interaction_type": "view"}, 400),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "view", "context": "mobile"}, 400),
    # The upload's rules (interactions/interaction_rules.h): a purchase of
    # nothing, and epoch milliseconds given as seconds, were accepted here.
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "purchase", "metadata": {"quantity": 0}}, 422),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "view", "timestamp": 1704896580000}, 422),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "view", "timestamp": -5}, 422),
    # The price at the top level as the CSV's column, but not two different ones.
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "purchase", "price": 5,
      "metadata": {"price": 6}}, 422),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "purchase", "quantity": 0}, 422),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "purchase", "value": [5]}, 400),
    # A number as text is read, but not a currency (not converted) nor an ambiguous one.
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "purchase", "value": "five"}, 422),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "purchase", "price": "$5"}, 422),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "purchase", "price": "1,299"}, 422),
    ({"user_id": "U", "item_id": "PROD_001", "interaction_type": "rating", "rating": "9"}, 422),
])
def test_invalid_events_are_refused_and_not_stored(server, shop, body, status):
    r = track(server, shop, body)
    assert r.status == status, r
    assert user_events(server, shop) == []


def test_scope_and_port(server, shop):
    reader = server.create_key(shop["jwt"], ["recommendations:read"], name="reader")
    ev = {"user_id": "U", "item_id": "PROD_001", "interaction_type": "view"}
    assert server.request("POST", "/api/v1/interactions", ev, token=reader["api_key"]).status == 403
    assert track(server, shop, ev, port="ml").status == 404


def test_batch_has_a_result_per_event(server, shop):
    events = [{"user_id": f"B{i}", "item_id": "PROD_003", "interaction_type": "view"} for i in range(5)]
    events.insert(2, {"user_id": "B9", "item_id": "MISSING", "interaction_type": "view"})
    events.insert(4, {"user_id": "B9", "interaction_type": "bogus", "item_id": "PROD_003"})
    r = server.request("POST", "/api/v1/interactions/batch", {"events": events}, token=shop["api_key"])
    assert r.status == 200, r
    a = r.json()
    assert (a["tracked"], a["failed"]) == (5, 2)
    statuses = [x["status"] for x in a["results"]]
    assert statuses == ["tracked", "tracked", "error", "tracked", "error", "tracked", "tracked"]
    assert a["results"][2]["error"]["code"] == "unknown_item"
    too_many = {"events": [events[0]] * 1001}
    assert server.request("POST", "/api/v1/interactions/batch", too_many,
                          token=shop["api_key"]).status == 422


def test_concurrent_tracking_loses_nothing(server, shop):
    errors = []

    def worker(t):
        for i in range(40):
            r = track(server, shop, {"user_id": f"T{t}", "item_id": "PROD_00%d" % (1 + i % 4),
                                     "interaction_type": "view",
                                     "timestamp": 1705000000 + i})
            if r.status != 201:
                errors.append(r)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(user_events(server, shop)) == 320


@pytest.mark.parametrize("commit_ms", ["20", "600000"])
def test_acknowledged_events_survive_kill_9(make_server, tmp_path, commit_ms):
    # With a 10-minute commit window every answered event is, at the kill,
    # only in the tenant's journal and its uncommitted transaction (unless a
    # read flushed it): the restart must write them again, with the ids the
    # answers gave.
    data = tmp_path / "durable"
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_TRACK_COMMIT_MS": commit_ms}
    s = make_server(env=env, data_dir=data)
    o = s.onboard("durable", scopes=["interactions:write", "data:write"])
    assert s.upload("/api/v1/upload/items", SEED_CSV, o["api_key"]).status == 200
    ids = []
    for i in range(50):
        r = s.request("POST", "/api/v1/interactions",
                      {"user_id": f"K{i}", "item_id": "PROD_004", "interaction_type": "purchase"},
                      token=o["api_key"])
        assert r.status == 201
        ids.append(r.json()["interaction_id"])
    journals = list(data.glob("tenants/*/tenant.db-track"))
    assert len(journals) == 1
    assert oct(journals[0].stat().st_mode & 0o777) == "0o600"
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait(timeout=10)
    s2 = Server(data, env=env).start()
    try:
        evs = s2.request("GET", "/api/v1/data/events", token=o["api_key"]).json()["events"]
        got = [e["payload"]["interaction_id"] for e in evs if e["topic"] == "user-interactions"]
        assert got == ids
        # Written once (no event twice above), and the journal emptied once applied.
        assert journals[0].stat().st_size == 0
    finally:
        s2.stop()
