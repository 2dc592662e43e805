"""Seed step 10 through the HTTP API: a tenant's model retrained by the
system once enough new interactions arrived — once, as the system, with its
trigger in the job record — and not again after a restart."""
import re

from conftest import ADMIN_TOKEN, wait_for
from test_training import QUICK, SCOPES, shop_csvs, train, wait_done

THRESHOLD = 30


def upload_shop(server, slug):
    """A tenant with the planted shop uploaded and a key that also tracks."""
    o = server.onboard(slug, scopes=SCOPES + ["interactions:write"])
    items, interactions = shop_csvs()
    assert server.upload("/api/v1/upload/items", items, o["api_key"]).status == 200
    assert server.upload("/api/v1/upload/interactions", interactions, o["api_key"]).status == 200
    return o


def passes(server):
    """Automatic retraining's passes so far (from /metrics)."""
    m = re.search(r"^embedrec_retrain_passes (\d+)", server.request("GET", "/metrics").body, re.M)
    return int(m.group(1)) if m else 0


def jobs(server, key):
    r = server.request("GET", "/api/v1/training?limit=50", token=key, port="ml")
    assert r.status == 200, r
    return r.json()["jobs"]


def settle(server, n=3):
    """Polls until `n` more passes have looked at every tenant whose data changed."""
    start = passes(server)
    wait_for(lambda: passes(server) >= start + n, timeout=30, what="retraining passes")


def track(server, key, users):
    events = [{"user_id": f"U{u % 120}", "item_id": f"P{u % 60}", "interaction_type": "view"} for u in users]
    r = server.request("POST", "/api/v1/interactions/batch", {"events": events}, token=key)
    assert r.status in (200, 207), r


def test_new_interactions_retrain_once_as_the_system_and_not_again_after_a_restart(make_server, tmp_path):
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_RETRAIN_CHECK_SECONDS": "1",
           "EMBEDREC_RETRAIN_MIN_GAP_SECONDS": "0"}
    server = make_server(env=env, data_dir=tmp_path / "data")
    shop = upload_shop(server, "retrainer")
    key = shop["api_key"]
    r = server.admin("PATCH", f"/api/v1/admin/tenants/{shop['tenant']['id']}",
                     {"settings": {"training": QUICK, "retrain_min_new_interactions": THRESHOLD}})
    assert r.status == 200, r
    first = wait_done(server, key, train(server, key).json()["job_id"])
    assert first["status"] == "completed" and first["started_by"].startswith("api key")
    assert first["trigger"] == {"reason": "manual"}

    track(server, key, range(THRESHOLD - 1))
    settle(server)
    assert len(jobs(server, key)) == 1  # below the threshold
    track(server, key, [THRESHOLD])
    scheduled = wait_for(lambda: next((j for j in jobs(server, key) if j.get("started_by") == "system"), None),
                         timeout=30, what="a scheduled job")
    assert scheduled["trigger"]["reason"] == "new_interactions"
    assert scheduled["trigger"]["new_interactions"] >= THRESHOLD
    assert scheduled["trigger"]["threshold"] == THRESHOLD
    assert scheduled["training_mode"] == "incremental"
    done = wait_done(server, key, scheduled["job_id"])
    assert done["status"] == "completed", done
    assert done["deployment_status"] in ("deployed", "standby")
    settle(server)
    assert len(jobs(server, key)) == 2  # once

    # A restart: the same data, nothing doubled; new interactions start the count again.
    server.stop()
    server = make_server(env=env, data_dir=tmp_path / "data")
    settle(server)
    assert len(jobs(server, key)) == 2
    track(server, key, range(THRESHOLD))
    wait_for(lambda: len(jobs(server, key)) == 3, timeout=30, what="the next scheduled job")
    latest = jobs(server, key)[0]
    assert latest["started_by"] == "system" and latest["trigger"]["reason"] == "new_interactions"
    wait_done(server, key, latest["job_id"])


def test_a_tenant_can_switch_automatic_retraining_off(make_server):
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_RETRAIN_CHECK_SECONDS": "1",
           "EMBEDREC_RETRAIN_MIN_GAP_SECONDS": "0"}
    server = make_server(env=env)
    shop = upload_shop(server, "manual-only")
    key = shop["api_key"]
    bad = server.admin("PATCH", f"/api/v1/admin/tenants/{shop['tenant']['id']}",
                       {"settings": {"retrain_min_new_interactions": 0}})
    assert bad.status == 422 and bad.json()["error"]["details"]["field"] == "settings.retrain_min_new_interactions"
    r = server.admin("PATCH", f"/api/v1/admin/tenants/{shop['tenant']['id']}",
                     {"settings": {"training": QUICK, "auto_retrain": False, "retrain_min_new_interactions": 1}})
    assert r.status == 200, r
    wait_done(server, key, train(server, key).json()["job_id"])
    track(server, key, range(5))
    settle(server)
    assert len(jobs(server, key)) == 1
