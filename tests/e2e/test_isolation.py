"""Tenants are isolated: another tenant's ids and keys get 403/404, never data."""
from conftest import STRONG_PASSWORD


def test_cross_tenant_attempts_are_refused(server):
    a = server.onboard("tenant-a", scopes=["recommendations:read", "models:read"])
    b = server.onboard("tenant-b")
    a_id, b_id = a["tenant"]["id"], b["tenant"]["id"]

    # A tenant admin cannot create users in another tenant.
    r = server.request("POST", "/api/v1/admin/users",
                       {"email": "x@evil.io", "password": STRONG_PASSWORD, "tenant_id": b_id},
                       token=a["jwt"])
    assert r.status == 403 and r.json()["error"]["code"] == "tenant_mismatch"
    # ... nor list them, nor read them.
    assert server.request("GET", f"/api/v1/admin/users?tenant_id={b_id}", token=a["jwt"]).status == 403
    b_user = server.request("GET", "/api/v1/admin/users", token=b["jwt"]).json()["users"][0]
    assert server.request("GET", f"/api/v1/admin/users/{b_user['id']}", token=a["jwt"]).status == 404
    assert server.request("PATCH", f"/api/v1/admin/users/{b_user['id']}", {"status": "inactive"},
                          token=a["jwt"]).status == 404
    # Another tenant's record, by id, with a user token or an API key.
    assert server.request("GET", f"/api/v1/admin/tenants/{b_id}", token=a["jwt"]).status == 403
    assert server.request("GET", f"/api/v1/admin/tenants/{b_id}", token=a["api_key"]).status == 403
    assert server.request("GET", f"/api/v1/admin/tenants/{a_id}", token=a["api_key"]).status == 200
    # Keys: listing or revoking across tenants.
    assert server.request("GET", f"/api/v1/api-keys?tenant_id={b_id}", token=a["jwt"]).status == 403
    r = server.request("DELETE", f"/api/v1/api-keys/{b['key']['id']}", token=a["jwt"])
    assert r.status == 404
    assert server.request("GET", "/api/v1/api-keys", token=b["api_key"]).status == 200
    # Keys created with a tenant_id of another tenant.
    r = server.request("POST", "/api/v1/api-keys",
                       {"name": "x", "scopes": ["models:read"], "tenant_id": b_id}, token=a["jwt"])
    assert r.status == 403
    # Platform-admin routes are closed to tenant credentials.
    for token in (a["jwt"], a["api_key"]):
        assert server.request("GET", "/api/v1/admin/tenants", token=token).status == 403
        assert server.request("POST", "/api/v1/admin/tenants", {"name": "x", "slug": "x"},
                              token=token).status == 403
        assert server.request("DELETE", f"/api/v1/admin/tenants/{b_id}", token=token).status == 403
    # B is untouched.
    assert server.admin("GET", f"/api/v1/admin/tenants/{b_id}").json()["status"] == "active"
    assert len(server.request("GET", "/api/v1/admin/users", token=b["jwt"]).json()["users"]) == 1


def test_suspended_tenant_credentials_are_forbidden(server):
    o = server.onboard("suspend-me")
    tid = o["tenant"]["id"]
    r = server.admin("PATCH", f"/api/v1/admin/tenants/{tid}", {"status": "suspended"})
    assert r.status == 200 and r.json()["status"] == "suspended"
    for token in (o["jwt"], o["api_key"]):
        r = server.request("GET", "/api/v1/api-keys", token=token)
        assert r.status == 403 and r.json()["error"]["code"] == "tenant_suspended"
    r = server.request("POST", "/api/v1/auth/login", {"email": o["email"], "password": STRONG_PASSWORD})
    assert r.status == 403
    server.admin("PATCH", f"/api/v1/admin/tenants/{tid}", {"status": "active"})
    assert server.request("GET", "/api/v1/api-keys", token=o["api_key"]).status == 200


def test_roles_and_scopes_limit_what_a_caller_may_do(server):
    o = server.onboard("roles")
    tid = o["tenant"]["id"]
    server.create_user(tid, "member@roles.io", role="member", token=o["jwt"])
    server.create_user(tid, "viewer@roles.io", role="viewer", token=o["jwt"])
    member = server.login("member@roles.io")["access_token"]
    viewer = server.login("viewer@roles.io")["access_token"]
    for token in (member, viewer):
        r = server.request("POST", "/api/v1/api-keys", {"name": "k", "scopes": ["models:read"]},
                           token=token)
        assert r.status == 403 and r.json()["error"]["code"] == "insufficient_scope"
        assert server.request("GET", "/api/v1/api-keys", token=token).status == 403
        assert server.request("POST", "/api/v1/admin/users",
                              {"email": "n@roles.io", "password": STRONG_PASSWORD},
                              token=token).status == 403
    me = server.request("GET", "/api/v1/auth/me", token=viewer).json()
    assert set(me["permissions"]) == {"recommendations:read", "models:read", "analytics:read"}
    me = server.request("GET", "/api/v1/auth/me", token=o["api_key"]).json()
    assert me["kind"] == "api_key"
    assert set(me["permissions"]) == {"recommendations:read", "interactions:write"}
    # API keys cannot mint keys or users.
    r = server.request("POST", "/api/v1/api-keys", {"name": "k", "scopes": ["models:read"]},
                       token=o["api_key"])
    assert r.status == 403
