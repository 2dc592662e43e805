"""What a shop's web pages need from the gateway (issue 17): CORS per tenant
(a preflight answered; each call's origin checked against the tenant's
settings.allowed_origins, its answer readable only there), publishable keys
(recommendations:read and interactions:write at most, only from allowed
origins), and the widget's script at /widget.js."""
from conftest import ADMIN_TOKEN
from test_training import SCOPES, shop_csvs, train, wait_done

SHOP = "https://shop.example"


def shop_with_keys(server, settings):
    o = server.onboard("browser-shop", scopes=SCOPES + ["interactions:write"])
    key = o["api_key"]
    items, interactions = shop_csvs()
    assert server.upload("/api/v1/upload/items", items, key).status == 200
    assert server.upload("/api/v1/upload/interactions", interactions, key).status == 200
    assert wait_done(server, key, train(server, key).json()["job_id"])["status"] == "completed"
    assert server.admin("PATCH", f"/api/v1/admin/tenants/{o['tenant']['id']}", {"settings": settings}).status == 200
    pk = server.admin("POST", "/api/v1/api-keys", {"name": "web", "type": "publishable",
                                                     "tenant_id": o["tenant"]["id"]})
    assert pk.status == 201, pk
    return o, pk.json()


def recommend(server, token, origin=None, user="U1"):
    headers = {"Origin": origin} if origin else {}
    return server.request("POST", "/api/v1/recommendations", {"user_id": user, "count": 3}, token=token,
                          headers=headers)


def test_a_preflight_is_answered_for_the_browser_routes_only(make_server):
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    pre = {"Origin": SHOP, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization, content-type"}
    for path in ("/api/v1/recommendations", "/api/v1/interactions", "/api/v1/interactions/batch",
                 "/api/v1/recommendations/similar"):
        r = server.request("OPTIONS", path, headers=pre, check_contract=False)
        assert r.status == 204, (path, r)
        assert r.headers["access-control-allow-origin"] == SHOP
        assert "authorization" in r.headers["access-control-allow-headers"].lower()
        assert r.headers["vary"] == "Origin"
    r = server.request("OPTIONS", "/api/v1/train", headers=pre, check_contract=False)
    assert r.status == 403 and r.json()["error"]["code"]
    assert "access-control-allow-origin" not in r.headers
    # Without the CORS headers OPTIONS is still not a method of the route.
    assert server.request("OPTIONS", "/api/v1/recommendations", check_contract=False).status == 405


def test_origins_are_checked_per_tenant_and_publishable_keys_stay_in_their_place(make_server):
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    o, pk = shop_with_keys(server, {"allowed_origins": [SHOP]})
    secret = o["api_key"]
    assert pk["type"] == "publishable" and pk["api_key"].startswith("pk_live_")
    assert pk["scopes"] == ["recommendations:read", "interactions:write"]

    ok = recommend(server, pk["api_key"], SHOP)
    assert ok.status == 200, ok
    assert ok.headers["access-control-allow-origin"] == SHOP and ok.headers["vary"] == "Origin"
    tracked = server.request("POST", "/api/v1/interactions", {"user_id": "U1", "item_id": "P1",
                                                              "interaction_type": "view"},
                             token=pk["api_key"], headers={"Origin": SHOP})
    assert tracked.status in (200, 201), tracked
    assert tracked.headers["access-control-allow-origin"] == SHOP

    other = recommend(server, pk["api_key"], "https://evil.example")
    assert other.status == 403 and other.json()["error"]["code"]
    assert "access-control-allow-origin" not in other.headers
    # A secret key from a page of another site: the same check.
    assert recommend(server, secret, "https://evil.example").status == 403
    # A secret key from a server (no Origin) or the console (the server's own origin): as before.
    assert recommend(server, secret).status == 200
    own = f"http://127.0.0.1:{server.ports['gateway']}"
    assert recommend(server, secret, own).status == 200
    # A publishable key without a page, or on any other route: refused.
    assert recommend(server, pk["api_key"]).status == 403
    r = server.request("GET", "/api/v1/models", token=pk["api_key"], headers={"Origin": SHOP}, port="ml")
    assert r.status == 403, r
    # Its scopes are limited.
    bad = server.admin("POST", "/api/v1/api-keys", {"name": "x", "type": "publishable", "scopes": ["data:write"],
                                                     "tenant_id": o["tenant"]["id"]})
    assert bad.status == 422 and bad.json()["error"]["details"]["field"] == "scopes"


def test_a_wildcard_origin_serves_publishable_keys_only(make_server):
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    o, pk = shop_with_keys(server, {"allowed_origins": ["*"]})
    assert recommend(server, pk["api_key"], "https://anyone.example").status == 200
    assert recommend(server, o["api_key"], "https://anyone.example").status == 403


def test_bad_allowed_origins_are_refused(make_server):
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    o = server.onboard("origins", scopes=SCOPES)
    for bad in (["https://shop.example/path"], ["shop.example"], "https://shop.example", [42]):
        r = server.admin("PATCH", f"/api/v1/admin/tenants/{o['tenant']['id']}", {"settings": {"allowed_origins": bad}})
        assert r.status in (400, 422), (bad, r)
        assert r.json()["error"]["details"]["field"] == "settings.allowed_origins"


def test_the_widget_script_is_served(make_server):
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    r = server.request("GET", "/widget.js", check_contract=False)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/javascript")
    assert "RecommendationWidget" in r.body and "innerHTML" not in r.body
    # Gzipped for a browser that accepts it (as are the console's files).
    import gzip
    import http.client
    for path in ("/widget.js", "/"):
        conn = http.client.HTTPConnection("127.0.0.1", server.ports["gateway"], timeout=10)
        conn.request("GET", path, headers={"Accept-Encoding": "gzip, br"})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        assert resp.status == 200 and resp.getheader("Content-Encoding") == "gzip", path
        assert "Accept-Encoding" in resp.getheader("Vary")
        text = gzip.decompress(body).decode()
        assert ("RecommendationWidget" if path == "/widget.js" else "<div id=\"app\">") in text
        assert len(body) < len(text)


def test_an_uploads_progress_can_be_polled_by_the_id_it_was_sent_with(make_server):
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    o = server.onboard("progress", scopes=SCOPES)
    key = o["api_key"]
    items, interactions = shop_csvs()
    assert server.request("GET", "/api/v1/data/uploads/progress/p-1", token=key, port="pipeline").status == 404
    r = server.upload("/api/v1/upload/items", items, key, raw=True, headers={"X-Upload-Progress": "p-1"})
    assert r.status == 200, r
    p = server.request("GET", "/api/v1/data/uploads/progress/p-1", token=key, port="pipeline")
    assert p.status == 200, p
    assert p.json() == {"progress_id": "p-1", "bytes_read": len(items), "lines_read": items.count(b"\n"), "done": True}
    # Another tenant's key does not see it.
    other = server.onboard("progress-b", scopes=SCOPES)
    assert server.request("GET", "/api/v1/data/uploads/progress/p-1", token=other["api_key"],
                          port="pipeline").status == 404
