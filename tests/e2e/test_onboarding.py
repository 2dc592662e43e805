"""Seed phase 1 (steps 1-3) as a customer runs it, plus sessions and persistence."""
import re
import stat

from conftest import ADMIN_TOKEN, STRONG_PASSWORD, Server, wait_for

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def test_seed_steps_1_to_3(server):
    # Step 1: the platform admin creates the tenant.
    r = server.admin("POST", "/api/v1/admin/tenants", {
        "name": "Sarah's Electronics", "slug": "sarahs-electronics",
        "settings": {"recommendation_model": "lightgcn", "max_recommendations": 50,
                     "enable_real_time": True}})
    assert r.status == 201, r
    tenant = r.json()
    assert UUID.match(tenant["id"])
    assert tenant["name"] == "Sarah's Electronics"
    assert tenant["slug"] == "sarahs-electronics"
    assert tenant["status"] == "active"
    assert RFC3339.match(tenant["created_at"])
    assert tenant["settings"]["max_recommendations"] == 50
    assert (server.data_dir / "tenants" / tenant["id"] / "tenant.db").exists()

    # Step 2: Sarah's admin account.
    r = server.admin("POST", "/api/v1/admin/users", {
        "email": "sarah@electronicsstore.com", "password": "SecurePass123!",
        "tenant_id": tenant["id"], "role": "admin"})
    assert r.status == 201, r
    user = r.json()
    assert user["email"] == "sarah@electronicsstore.com"
    assert user["tenant_id"] == tenant["id"]
    assert user["role"] == "admin" and user["status"] == "active"
    assert "password" not in r.body and "argon2" not in r.body

    # Step 3: login, then an API key for the website.
    r = server.request("POST", "/api/v1/auth/login",
                       {"email": "sarah@electronicsstore.com", "password": "SecurePass123!"})
    assert r.status == 200, r
    login = r.json()
    assert login["expires_in"] == 900
    assert login["access_token"].count(".") == 2
    assert login["refresh_token"]
    assert login["user"] == {"id": user["id"], "email": user["email"],
                             "tenant_id": tenant["id"], "role": "admin"}

    r = server.request("POST", "/api/v1/api-keys",
                       {"name": "Production Website",
                        "scopes": ["recommendations:read", "interactions:write"]},
                       token=login["access_token"])
    assert r.status == 201, r
    key = r.json()
    assert re.match(r"^sk_live_[0-9A-Za-z]{32,}$", key["api_key"])
    assert key["key_prefix"] == key["api_key"][:11]
    assert key["scopes"] == ["recommendations:read", "interactions:write"]
    assert key["name"] == "Production Website"

    # The secret is shown once: listings never carry it.
    r = server.request("GET", "/api/v1/api-keys", token=login["access_token"])
    assert r.status == 200
    assert key["api_key"] not in r.body
    assert [k["id"] for k in r.json()["api_keys"]] == [key["id"]]
    # The key itself authenticates, and sees only itself.
    r = server.request("GET", "/api/v1/api-keys", token=key["api_key"])
    assert r.status == 200, r
    listed = r.json()["api_keys"]
    assert [k["id"] for k in listed] == [key["id"]]
    assert listed[0]["last_used_at"] is not None


def test_refresh_rotates_and_reuse_revokes_the_family(server):
    o = server.onboard("rotate")
    first = o["session"]["refresh_token"]
    r = server.request("POST", "/api/v1/auth/refresh", {"refresh_token": first})
    assert r.status == 200, r
    second = r.json()["refresh_token"]
    assert second != first
    assert server.request("GET", "/api/v1/auth/me", token=r.json()["access_token"]).status == 200
    # Presenting the rotated token again: 401, and the live one dies with it.
    live_access = r.json()["access_token"]
    r = server.request("POST", "/api/v1/auth/refresh", {"refresh_token": first})
    assert r.status == 401 and r.json()["error"]["code"] == "invalid_refresh_token"
    r = server.request("POST", "/api/v1/auth/refresh", {"refresh_token": second})
    assert r.status == 401
    # The login's access tokens end with it, not 15 minutes later.
    assert server.request("GET", "/api/v1/auth/me", token=live_access).status == 401
    assert server.request("GET", "/api/v1/auth/me", token=o["session"]["access_token"]).status == 401


def test_logout_revokes_the_refresh_token(server):
    o = server.onboard("logout")
    token = o["session"]["refresh_token"]
    access = o["session"]["access_token"]
    other = server.login(o["email"])  # another login of the same user lives on
    assert server.request("GET", "/api/v1/auth/me", token=access).status == 200  # cached as valid
    assert server.request("POST", "/api/v1/auth/logout", {"refresh_token": token}).status == 204
    assert server.request("POST", "/api/v1/auth/refresh", {"refresh_token": token}).status == 401
    r = server.request("GET", "/api/v1/auth/me", token=access)
    assert r.status == 401 and r.json()["error"]["code"], r
    assert server.request("GET", "/api/v1/auth/me", token=other["access_token"]).status == 200


def test_wrong_email_and_wrong_password_answer_the_same(server):
    server.onboard("same")
    a = server.request("POST", "/api/v1/auth/login",
                       {"email": "admin@same.example.com", "password": "WrongPass123!"})
    b = server.request("POST", "/api/v1/auth/login",
                       {"email": "nobody@same.example.com", "password": "WrongPass123!"})
    assert a.status == b.status == 401
    assert a.json()["error"]["code"] == b.json()["error"]["code"] == "invalid_credentials"
    assert a.json()["error"]["message"] == b.json()["error"]["message"]


def test_repeated_failed_logins_are_throttled(server):
    server.onboard("throttle")
    email = "admin@throttle.example.com"
    codes = [server.request("POST", "/api/v1/auth/login",
                            {"email": email, "password": "WrongPass123!"}).status
             for _ in range(5)]
    assert codes == [401] * 5
    r = server.request("POST", "/api/v1/auth/login", {"email": email, "password": STRONG_PASSWORD})
    assert r.status == 429, r
    assert int(r.header("retry-after")) > 0
    assert r.json()["error"]["code"] == "login_throttled"
    # Case variants of the email share the counter.
    r = server.request("POST", "/api/v1/auth/login",
                       {"email": email.upper(), "password": STRONG_PASSWORD})
    assert r.status == 429


def test_users_list_and_deactivate(server):
    o = server.onboard("team")
    tid = o["tenant"]["id"]
    member = server.create_user(tid, "member@team.example.com", role="member", token=o["jwt"])
    r = server.request("GET", "/api/v1/admin/users", token=o["jwt"])
    assert r.status == 200
    assert {u["email"] for u in r.json()["users"]} == {o["email"], "member@team.example.com"}
    m_session = server.login("member@team.example.com")
    # What cannot be changed is refused, not silently ignored; nothing else changes either.
    for immutable in ({"email": "other@team.example.com"}, {"tenant_id": "someone-else"},
                      {"status": "inactive", "id": "x"}):
        r = server.request("PATCH", f"/api/v1/admin/users/{member['id']}", immutable, token=o["jwt"])
        assert r.status == 422, (immutable, r)
        assert r.json()["error"]["details"]["field"] in ("email", "tenant_id", "id"), r
    same = server.request("GET", f"/api/v1/admin/users/{member['id']}", token=o["jwt"]).json()
    assert same["email"] == "member@team.example.com" and same["status"] == "active", same
    r = server.request("PATCH", f"/api/v1/admin/users/{member['id']}", {"status": "inactive"},
                       token=o["jwt"])
    assert r.status == 200 and r.json()["status"] == "inactive"
    # Deactivation ends the user's access at once: access token, refresh token, login.
    assert server.request("GET", "/api/v1/auth/me", token=m_session["access_token"]).status == 401
    assert server.request("POST", "/api/v1/auth/refresh",
                          {"refresh_token": m_session["refresh_token"]}).status == 401
    r = server.request("POST", "/api/v1/auth/login",
                       {"email": "member@team.example.com", "password": STRONG_PASSWORD})
    assert r.status == 401


def test_revoked_api_key_is_refused_at_once(server):
    o = server.onboard("revoke")
    assert server.request("GET", "/api/v1/api-keys", token=o["api_key"]).status == 200
    r = server.request("DELETE", f"/api/v1/api-keys/{o['key']['id']}", token=o["jwt"])
    assert r.status == 204
    assert server.request("GET", "/api/v1/api-keys", token=o["api_key"]).status == 401
    assert server.request("DELETE", f"/api/v1/api-keys/{o['key']['id']}",
                          token=o["jwt"]).status == 404


def test_a_key_with_an_end_stops_working_then(server):
    import datetime
    import time
    o = server.onboard("expiry")
    new = lambda extra: server.request("POST", "/api/v1/api-keys",
                                       {"name": "k", "scopes": ["recommendations:read"], **extra}, token=o["jwt"])
    week = new({"expires_in_days": 7}).json()
    end = datetime.datetime.fromisoformat(week["expires_at"].replace("Z", "+00:00"))
    assert abs((end - datetime.datetime.now(datetime.timezone.utc)).total_seconds() - 7 * 86400) < 120, week
    assert o["key"].get("expires_at") is None  # none given: never
    past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for extra in ({"expires_at": past}, {"expires_at": "soon"}, {"expires_in_days": 0},
                  {"expires_in_days": 7, "expires_at": past}):
        assert new(extra).status == 422, extra
    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    short = new({"expires_at": soon}).json()
    assert short["expires_at"] == soon
    assert server.request("GET", "/api/v1/api-keys", token=short["api_key"]).status == 200
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        r = server.request("GET", "/api/v1/api-keys", token=short["api_key"])
        if r.status == 401:
            break
        time.sleep(0.2)
    assert r.status == 401 and "expired" in r.json()["error"]["message"], r
    listed = server.request("GET", "/api/v1/api-keys", token=o["jwt"]).json()["api_keys"]
    assert {k["id"]: k["expires_at"] for k in listed}[short["id"]] == soon


def test_tenant_list_patch_and_delete(server):
    tenants = [server.create_tenant(f"shop-{i}") for i in range(3)]
    r = server.admin("GET", "/api/v1/admin/tenants?limit=2")
    page = r.json()
    assert r.status == 200 and page["total"] == 3 and len(page["tenants"]) == 2
    r2 = server.admin("GET", f"/api/v1/admin/tenants?limit=2&cursor={page['next_cursor']}")
    assert [t["slug"] for t in r2.json()["tenants"]] == ["shop-2"]
    assert r2.json()["next_cursor"] is None

    tid = tenants[0]["id"]
    r = server.admin("PATCH", f"/api/v1/admin/tenants/{tid}",
                     {"name": "Renamed", "settings": {"max_recommendations": 20, "theme": "dark"}})
    assert r.status == 200, r
    assert r.json()["name"] == "Renamed"
    assert r.json()["settings"]["max_recommendations"] == 20
    assert r.json()["settings"]["theme"] == "dark"
    assert r.json()["settings"]["recommendation_model"] == "auto"  # the default at creation, kept
    # A change refuses what it cannot change, and a misspelt setting (stored, it would do nothing).
    for body, field, meant in (({"slug": "other"}, "slug", None), ({"nmae": "X"}, "nmae", "name"),
                               ({"settings": {"cache_ttl": 5}}, "settings.cache_ttl", "settings.cache_ttl_seconds"),
                               ({"settings": {"attribution": {"click_window": 5}}}, "settings.attribution.click_window",
                                "settings.attribution.click_window_minutes")):
        r = server.admin("PATCH", f"/api/v1/admin/tenants/{tid}", body)
        assert r.status == 422, (body, r)
        details = r.json()["error"]["details"]
        assert details["field"] == field and details.get("did_you_mean") == meant, (body, details)
    after = server.admin("GET", f"/api/v1/admin/tenants/{tid}").json()
    assert after["slug"] == "shop-0" and after["name"] == "Renamed" and "cache_ttl" not in after["settings"]

    assert server.admin("DELETE", f"/api/v1/admin/tenants/{tid}").status == 204
    assert server.admin("GET", f"/api/v1/admin/tenants/{tid}").status == 404
    assert not (server.data_dir / "tenants" / tid).exists()
    assert server.admin("DELETE", f"/api/v1/admin/tenants/{tid}").status == 404


def test_data_and_generated_admin_token_survive_a_restart(make_server, tmp_path):
    s = make_server(data_dir=tmp_path / "persist")
    token_file = tmp_path / "persist" / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token in s.log_path.read_text()  # printed once in the log
    r = s.request("POST", "/api/v1/admin/tenants", {"name": "P", "slug": "persist"}, token=token)
    assert r.status == 201
    tid = r.json()["id"]
    r = s.request("POST", "/api/v1/admin/users", {"email": "p@persist.io", "password": STRONG_PASSWORD,
                                                  "tenant_id": tid}, token=token)
    assert r.status == 201
    session = s.login("p@persist.io")
    assert s.stop() == 0

    s2 = Server(tmp_path / "persist").start()
    try:
        assert s2.request("GET", f"/api/v1/admin/tenants/{tid}", token=token).status == 200
        # The access token stays valid: the JWT secret persisted too.
        assert s2.request("GET", "/api/v1/auth/me", token=session["access_token"]).status == 200
        assert s2.login("p@persist.io")["user"]["tenant_id"] == tid
        log = s2.log_path.read_text()
        assert log.count(token) == 1  # not printed again
    finally:
        s2.stop()

def test_the_platform_admin_rotates_the_secrets_without_a_restart(make_server, tmp_path):
    s = make_server(data_dir=tmp_path / "rot")
    token = (tmp_path / "rot" / "admin-token").read_text().strip()
    tid = s.request("POST", "/api/v1/admin/tenants", {"name": "R", "slug": "rot"}, token=token).json()["id"]
    assert s.request("POST", "/api/v1/admin/users", {"email": "r@rot.io", "password": STRONG_PASSWORD,
                                                     "tenant_id": tid}, token=token).status == 201
    before = s.login("r@rot.io")["access_token"]
    keys = s.request("GET", "/api/v1/admin/secrets/jwt-keys", token=token).json()
    assert keys["rotatable"] and len(keys["keys"]) == 1 and "secret" not in keys["keys"][0]
    # A tenant's user may not rotate anything.
    assert s.request("POST", "/api/v1/admin/secrets/jwt-keys/rotate", {}, token=before).status == 403
    rotated = s.request("POST", "/api/v1/admin/secrets/jwt-keys/rotate", {}, token=token)
    assert rotated.status == 200, rotated
    ring = rotated.json()["keys"]
    assert [k["current"] for k in ring] == [False, True] and ring[0]["verifies_until"], ring
    after = s.login("r@rot.io")["access_token"]
    assert after != before
    # Signed-in users stay signed in: both tokens work, and keep working after a restart.
    for t in (before, after):
        assert s.request("GET", "/api/v1/auth/me", token=t).status == 200
    r = s.request("POST", "/api/v1/admin/secrets/admin-token/rotate", {}, token=token)
    assert r.status == 200, r
    new_token = r.json()["admin_token"]
    assert (tmp_path / "rot" / "admin-token").read_text().strip() == new_token
    assert s.request("GET", f"/api/v1/admin/tenants/{tid}", token=token).status == 401
    assert s.request("GET", f"/api/v1/admin/tenants/{tid}", token=new_token).status == 200
    assert new_token not in s.log_path.read_text()  # shown once, in the answer only
    assert s.stop() == 0
    s2 = Server(tmp_path / "rot").start()
    try:
        for t in (before, after):
            assert s2.request("GET", "/api/v1/auth/me", token=t).status == 200
        assert s2.request("GET", f"/api/v1/admin/tenants/{tid}", token=new_token).status == 200
        assert s2.request("GET", f"/api/v1/admin/tenants/{tid}", token=token).status == 401
    finally:
        s2.stop()


def test_configured_secrets_are_rotated_by_configuration(make_server):
    secret, previous = "configured-secret-configured-000", "previous-secret-previous-secret-1"
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_JWT_SECRET": previous})
    o = s.onboard("conf")
    old = o["jwt"]
    s.stop()
    s.extra_env = {**s.extra_env, "EMBEDREC_JWT_SECRET": secret, "EMBEDREC_JWT_PREVIOUS_SECRETS": previous}
    s.start()
    assert s.request("GET", "/api/v1/auth/me", token=old).status == 200  # the old secret still verifies
    r = s.admin("POST", "/api/v1/admin/secrets/jwt-keys/rotate", {})
    assert r.status == 409 and r.json()["error"]["code"] == "jwt_secret_configured", r
    r = s.admin("POST", "/api/v1/admin/secrets/admin-token/rotate", {})
    assert r.status == 409 and r.json()["error"]["code"] == "admin_token_configured", r
    s.stop()
    s.extra_env = {k: v for k, v in s.extra_env.items() if k != "EMBEDREC_JWT_PREVIOUS_SECRETS"}
    s.start()
    assert s.request("GET", "/api/v1/auth/me", token=old).status == 401  # dropped from the configuration
