"""Bad input gets a clear JSON error with the right status, stores nothing and
leaves the server healthy."""
import json

import pytest

from conftest import ADMIN_TOKEN, STRONG_PASSWORD


def assert_error(r, status, code=None):
    assert r.status == status, r
    err = r.json()["error"]
    assert set(err) == {"code", "message", "details"}
    assert err["message"] and " " in err["message"]
    assert err["details"]["request_id"] == r.header("x-request-id")
    if code:
        assert err["code"] == code, err
    return err


def tenant_count(server):
    return server.admin("GET", "/api/v1/admin/tenants").json()["total"]


@pytest.mark.parametrize("raw,status,code", [
    (b"{", 400, "invalid_json"),
    (b"", 400, "invalid_json"),
    (b"[]", 400, "invalid_json"),
    (b"null", 400, "invalid_json"),
    (b'{"name": "x", "slug": "ok"} trailing', 400, "invalid_json"),
    (b'{"name": "\xff\xfe", "slug": "utf"}', 400, "invalid_json"),
    (b'{"name": 42, "slug": "types"}', 400, "invalid_request"),
    (b'{"name": "x", "slug": ["a"]}', 400, "invalid_request"),
    (b'{"slug": "noname"}', 400, "missing_field"),
    (b'{"name": "x", "slug": "Bad Slug!"}', 422, "validation_failed"),
    (b'{"name": "x", "slug": "-dash"}', 422, "validation_failed"),
    (b'{"name": "   ", "slug": "blank"}', 422, "validation_failed"),
    (b'{"name": "x", "slug": "s", "settings": []}', 400, "invalid_request"),
    (b'{"name": "x", "slug": "s", "settings": {"max_recommendations": 0}}', 422, None),
    (b'{"name": "x", "slug": "s", "settings": {"max_recommendations": "ten"}}', 400, None),
    (b'{"name": "x", "slug": "s", "settings": {"recommendation_model": "magic"}}', 422, None),
    (b'{"name": "x", "slug": "s", "settings": {"enable_real_time": "yes"}}', 400, None),
    (b'[' * 100 + b']' * 100, 400, "invalid_json"),
])
def test_bad_tenant_bodies(server, raw, status, code):
    r = server.request("POST", "/api/v1/admin/tenants", raw=raw, token=ADMIN_TOKEN,
                       headers={"Content-Type": "application/json"})
    assert_error(r, status, code)
    assert tenant_count(server) == 0


def test_unknown_fields_are_ignored(server):
    r = server.admin("POST", "/api/v1/admin/tenants",
                     {"name": "X", "slug": "extra", "surprise": {"deep": [1, 2]}})
    assert r.status == 201
    assert "surprise" not in r.json()


def test_100kb_strings_are_rejected_everywhere(server):
    big = "x" * 100_000
    assert_error(server.admin("POST", "/api/v1/admin/tenants", {"name": big, "slug": "big"}), 422)
    o = server.onboard("bigs")
    assert_error(server.admin("POST", "/api/v1/admin/users",
                              {"email": big + "@x.io", "password": STRONG_PASSWORD,
                               "tenant_id": o["tenant"]["id"]}), 422)
    assert_error(server.request("POST", "/api/v1/api-keys", {"name": big, "scopes": ["models:read"]},
                                token=o["jwt"]), 422)
    assert_error(server.request("POST", "/api/v1/auth/login", {"email": big, "password": big}), 422)
    assert tenant_count(server) == 1


def test_oversize_body_is_413_and_the_server_stays_healthy(server):
    raw = json.dumps({"name": "x", "slug": "huge", "pad": "y" * 400_000}).encode()
    r = server.request("POST", "/api/v1/admin/tenants", raw=raw, token=ADMIN_TOKEN,
                       headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    assert server.request("GET", "/healthz").status == 200
    assert tenant_count(server) == 0


def test_user_validation(server):
    tid = server.create_tenant("users")["id"]
    cases = [
        ({"email": "not-an-email", "password": STRONG_PASSWORD, "tenant_id": tid}, 422, "invalid_email"),
        ({"email": "a@b.io", "password": "short", "tenant_id": tid}, 422, "weak_password"),
        ({"email": "a@b.io", "password": "alllowercaseletters", "tenant_id": tid}, 422, "weak_password"),
        ({"email": "a@b.io", "password": STRONG_PASSWORD, "tenant_id": tid, "role": "god"}, 422, None),
        ({"email": "a@b.io", "password": STRONG_PASSWORD}, 400, None),  # admin must name a tenant
        ({"email": "a@b.io", "password": STRONG_PASSWORD,
          "tenant_id": "00000000-0000-4000-8000-000000000000"}, 404, None),
        ({"password": STRONG_PASSWORD, "tenant_id": tid}, 400, "missing_field"),
        ({"email": ["a@b.io"], "password": STRONG_PASSWORD, "tenant_id": tid}, 400, None),
    ]
    for body, status, code in cases:
        err = assert_error(server.admin("POST", "/api/v1/admin/users", body), status, code)
        if code == "weak_password":
            assert "10 to 128" in err["message"] or "three" in err["message"]
    assert server.admin("GET", f"/api/v1/admin/users?tenant_id={tid}").json()["users"] == []
    server.create_user(tid, "Dup@Users.io")
    assert_error(server.admin("POST", "/api/v1/admin/users",
                              {"email": "dup@users.io", "password": STRONG_PASSWORD,
                               "tenant_id": tid}), 409, "duplicate_email")


def test_duplicate_slug_is_409(server):
    server.create_tenant("taken")
    assert_error(server.admin("POST", "/api/v1/admin/tenants", {"name": "x", "slug": "taken"}),
                 409, "duplicate_slug")


def test_api_key_scope_validation(server):
    o = server.onboard("scopes")
    for body, status in [({"name": "k", "scopes": ["root"]}, 422), ({"name": "k", "scopes": []}, 422),
                         ({"name": "k", "scopes": "models:read"}, 400), ({"name": "k"}, 400),
                         ({"scopes": ["models:read"]}, 400)]:
        assert_error(server.request("POST", "/api/v1/api-keys", body, token=o["jwt"]), status)
    assert len(server.request("GET", "/api/v1/api-keys", token=o["jwt"]).json()["api_keys"]) == 1


def test_credentials_errors(server):
    assert_error(server.request("GET", "/api/v1/api-keys"), 401, "missing_credentials")
    assert_error(server.request("GET", "/api/v1/api-keys", token="nonsense"), 401)
    assert_error(server.request("GET", "/api/v1/api-keys", token="sk_live_" + "A" * 40), 401)
    assert_error(server.request("GET", "/api/v1/api-keys",
                                headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
    r = server.request("GET", "/api/v1/auth/me", token="a.b.c")
    assert_error(r, 401)
    assert r.header("www-authenticate") == "Bearer"


def test_unknown_routes_and_methods(server):
    assert_error(server.request("GET", "/api/v1/nothing"), 404, "not_found")
    r = server.request("PUT", "/api/v1/admin/tenants", token=ADMIN_TOKEN)
    assert_error(r, 405, "method_not_allowed")
    assert set(r.header("allow").split(", ")) == {"GET", "POST"}
    assert_error(server.admin("GET", "/api/v1/admin/tenants/not-a-real-id"), 404)
    assert_error(server.admin("GET", "/api/v1/admin/tenants?limit=abc"), 400)
    assert_error(server.admin("GET", "/api/v1/admin/tenants?cursor=zzz"), 400)


def test_ids_are_utf8_text_of_one_line_on_every_route(server):
    """Invalid UTF-8, NUL and other control characters in ids are refused
    (path, JSON body, CSV), so nothing stored can make a later answer
    invalid JSON; an error echoing what was sent stays valid UTF-8."""
    from test_server import raw_exchange
    o = server.onboard("utf8", scopes=["data:write", "recommendations:read", "interactions:write"])
    key = o["api_key"]
    for path in ("/api/v1/items/%FF%FE", "/api/v1/items/a%00b", "/api/v1/items/two%0Alines", "/api/v1/items/del%7F"):
        r = server.request("PUT", path, {"name": "x"}, token=key)
        assert_error(r, 400)
        assert r.json()["error"]["details"]["field"] == "item_id", r
    assert server.request("PUT", "/api/v1/items/caf%C3%A9", {"name": "ok"}, token=key).status in (200, 201)
    for user in ("u\u0000x", "u\u0007x", "two\nlines"):
        r = server.request("POST", "/api/v1/interactions", {"user_id": user, "item_id": "café",
                                                           "interaction_type": "view"}, token=key)
        assert_error(r, 422)
        assert r.json()["error"]["details"]["field"] == "user_id", r
    # Free text may break lines; an id may not.
    assert server.request("PUT", "/api/v1/items/multi", {"name": "x", "description": "two\nlines"},
                          token=key).status in (200, 201)
    csv = b"item_id,name\r\nok1,Fine\r\n\"bad\x01id\",Nope\r\n\"line\nid\",Nope\r\n"
    r = server.upload("/api/v1/upload/items", csv, key)
    assert r.status == 200 and (r.json()["rows_accepted"], r.json()["rows_rejected"]) == (1, 2), r
    got = raw_exchange(server.ports["gateway"], b"GET /api/v1/items?limit=100 HTTP/1.1\r\nHost: x\r\n"
                                                b"Authorization: Bearer " + key.encode() + b"\r\n"
                                                b"Connection: close\r\n\r\n")
    body = got.partition(b"\r\n\r\n")[2]
    listed = json.loads(body.decode("utf-8"))  # strict: the bytes are UTF-8
    assert sorted(i["item_id"] for i in listed["items"]) == ["café", "multi", "ok1"]
    # An unknown route echoes the path it was sent: replaced, never raw bytes.
    got = raw_exchange(server.ports["gateway"], b"GET /api/v1/nothing%FF%FE HTTP/1.1\r\nHost: x\r\n"
                                                b"Connection: close\r\n\r\n")
    head, _, body = got.partition(b"\r\n\r\n")
    assert b" 404 " in head.split(b"\r\n")[0], head
    assert "no route" in json.loads(body.decode("utf-8"))["error"]["message"]
