"""Catalog item routes and a user's history."""
import pytest

from test_upload_items import SEED_CSV


@pytest.fixture
def shop(server):
    o = server.onboard("items", scopes=["data:write", "interactions:write", "recommendations:read"])
    assert server.upload("/api/v1/upload/items", SEED_CSV, o["api_key"]).status == 200
    return o


def test_put_get_delete_item(server, shop):
    k = shop["api_key"]
    body = {"name": "4K Camera", "category": "Cameras", "price": 499.0, "tags": ["4k", "video"],
            "properties": {"sensor": "1 inch"}, "available": True}
    r = server.request("PUT", "/api/v1/items/CAM_1", body, token=k)
    assert r.status == 201, r
    assert server.request("PUT", "/api/v1/items/CAM_1", {**body, "price": 449.0}, token=k).status == 200
    it = server.request("GET", "/api/v1/items/CAM_1", token=k).json()
    assert it["price"] == 449.0 and it["tags"] == ["4k", "video"]
    assert it["properties"] == {"sensor": "1 inch"}
    assert server.request("PUT", "/api/v1/items/CAM_2", {"price": -1}, token=k).status == 422
    assert server.request("PUT", "/api/v1/items/CAM_2", {"price": "cheap"}, token=k).status == 422
    assert server.request("PUT", "/api/v1/items/CAM_2", {"price": True}, token=k).status == 400
    # A decimal as back ends often serialise it: a string.
    assert server.request("PUT", "/api/v1/items/CAM_3", {"name": "Lens", "price": "1.299,00"}, token=k).status == 201
    assert server.request("GET", "/api/v1/items/CAM_3", token=k).json()["price"] == 1299
    assert server.request("PUT", "/api/v1/items/CAM_2", {"tags": "a|b"}, token=k).status == 400
    assert server.request("DELETE", "/api/v1/items/CAM_1", token=k).status == 204
    assert server.request("GET", "/api/v1/items/CAM_1", token=k).status == 404
    assert server.request("DELETE", "/api/v1/items/CAM_1", token=k).status == 404
    reader = server.create_key(shop["jwt"], ["recommendations:read"], name="r")
    assert server.request("PUT", "/api/v1/items/X", body, token=reader["api_key"]).status == 403


def test_an_item_field_the_server_does_not_know_is_refused_not_dropped(server, shop):
    k = shop["api_key"]
    r = server.request("PUT", "/api/v1/items/CAM_9", {"title": "4K Camera", "category": "Cameras"}, token=k)
    assert r.status == 422, r
    err = r.json()["error"]
    assert err["details"]["field"] == "title" and "properties" in err["details"]["known_fields"], err
    assert server.request("GET", "/api/v1/items/CAM_9", token=k).status == 404  # nothing stored
    r = server.request("PUT", "/api/v1/items/CAM_9", {"name": "4K Camera", "prices": 10}, token=k)
    assert r.status == 422 and r.json()["error"]["details"]["did_you_mean"] == "price", r
    # The id may repeat the path's, not change it.
    assert server.request("PUT", "/api/v1/items/CAM_9", {"item_id": "CAM_9", "name": "4K"}, token=k).status == 201
    r = server.request("PUT", "/api/v1/items/CAM_9", {"item_id": "CAM_10", "name": "4K"}, token=k)
    assert r.status == 422 and r.json()["error"]["details"]["field"] == "item_id", r
    assert server.request("GET", "/api/v1/items/CAM_10", token=k).status == 404
    assert server.request("GET", "/api/v1/items/CAM_9", token=k).json()["name"] == "4K"


def test_list_items_paginates_and_filters(server, shop):
    k = shop["api_key"]
    page = server.request("GET", "/api/v1/items?limit=3", token=k).json()
    assert [i["item_id"] for i in page["items"]] == ["PROD_001", "PROD_002", "PROD_003"]
    rest = server.request("GET", f"/api/v1/items?limit=3&cursor={page['next_cursor']}", token=k).json()
    assert [i["item_id"] for i in rest["items"]] == ["PROD_004"] and rest["next_cursor"] is None
    audio = server.request("GET", "/api/v1/items?category=Audio", token=k).json()["items"]
    assert [i["item_id"] for i in audio] == ["PROD_001"]
    assert server.request("GET", "/api/v1/items?limit=0", token=k).status == 400


def test_user_history_newest_first(server, shop):
    k = shop["api_key"]
    for i, (item, kind) in enumerate([("PROD_001", "view"), ("PROD_001", "add_to_cart"),
                                      ("PROD_001", "purchase")]):
        r = server.request("POST", "/api/v1/interactions",
                           {"user_id": "JOHN", "item_id": item, "interaction_type": kind,
                            "timestamp": 1705433000 + i}, token=k)
        assert r.status == 201
    h = server.request("GET", "/api/v1/users/JOHN/interactions?limit=2", token=k).json()
    assert [x["interaction_type"] for x in h["interactions"]] == ["purchase", "add_to_cart"]
    assert h["interactions"][0]["item_id"] == "PROD_001"
    more = server.request("GET", f"/api/v1/users/JOHN/interactions?cursor={h['next_cursor']}",
                          token=k).json()
    assert [x["interaction_type"] for x in more["interactions"]] == ["view"]
    assert server.request("GET", "/api/v1/users/NOBODY/interactions", token=k).status == 404


def test_an_item_id_with_a_slash_is_reachable_percent_encoded(server):
    """An id such as SKU/123 (accepted by uploads) is addressed as SKU%2F123:
    routes match the path as sent, then decode each parameter."""
    o = server.onboard("slashes", scopes=["data:write", "recommendations:read"])
    key = o["api_key"]
    csv = b"item_id,name,category\nSKU/123,Slashed,Tools\nPLAIN,Plain,Tools\n"
    assert server.upload("/api/v1/upload/items", csv, key, port="pipeline").status == 200
    got = server.request("GET", "/api/v1/items/SKU%2F123", token=key)
    assert got.status == 200 and got.json()["item_id"] == "SKU/123", got
    assert server.request("GET", "/api/v1/items/SKU/123", token=key).status == 404  # two segments: no such route
    assert server.request("DELETE", "/api/v1/items/SKU%2F123", token=key).status in (200, 204)
    assert server.request("GET", "/api/v1/items/SKU%2F123", token=key).status == 404


def test_urls_in_items_are_never_fetched(server, shop):
    """SSRF (docs/security.md, API7): an item's image_url naming a server the
    embedrec host can reach is stored and returned, never requested."""
    import socket
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(8)
    trap.setblocking(False)
    url = f"http://127.0.0.1:{trap.getsockname()[1]}/internal/admin?x=1"
    key = shop["api_key"]
    r = server.request("PUT", "/api/v1/items/trap", {"name": "Trap", "category": "Tools", "image_url": url},
                       token=key)
    assert r.status in (200, 201), r
    assert server.request("GET", "/api/v1/items/trap", token=key).json()["image_url"] == url
    assert server.request("GET", "/api/v1/items?limit=100", token=key).status == 200
    assert server.request("GET", "/api/v1/recommendations/popular?count=50", token=key).status == 200
    assert server.request("POST", "/api/v1/interactions", {"user_id": "u-trap", "item_id": "trap",
                                                           "interaction_type": "view"}, token=key).status in (200, 201)
    try:
        trap.accept()
        raise AssertionError("the server connected to the item's image_url")
    except BlockingIOError:
        pass  # nothing connected: the URL was never fetched
    finally:
        trap.close()
