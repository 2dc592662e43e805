"""Seed step 10 through the HTTP API: a tenant's model retrained by the
system once enough new interactions arrived — once, as the system, with its
trigger in the job record — and not again after a restart."""
import re

from conftest import ADMIN_TOKEN, wait_for
from test_training import QUICK, SCOPES, shop_csvs, train, wait_done

THRESHOLD = 30


def upload_shop(server, slug):
    """A tenant with the planted shop uploaded and a key that also tracks."""
    o = server.onboard(slug, scopes=SCOPES + ["interactions:write", "analytics:read"])
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
                     {"settings": {"training": QUICK, "retrain_min_new_interactions": THRESHOLD,
                                   "retrain_experiment": False}})  # replaced at once: the next run may follow
    assert r.status == 200, r
    first = wait_done(server, key, train(server, key).json()["job_id"])
    assert first["status"] == "completed" and first["started_by"].startswith("api key")
    assert first["trigger"] == {"reason": "manual"}
    bought = server.request("POST", "/api/v1/interactions",
                            {"user_id": "U2", "item_id": "P2", "interaction_type": "purchase"}, token=key)
    assert bought.json()["next_actions"]["retrain_recommended"] is False  # just trained

    track(server, key, range(THRESHOLD - 2))  # with the purchase above: one short
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
    # Not started, but recommended: a purchase's answer says so.
    r = server.request("POST", "/api/v1/interactions",
                       {"user_id": "U1", "item_id": "P1", "interaction_type": "purchase"}, token=key)
    assert r.status == 201, r
    assert r.json()["next_actions"] == {"retrain_recommended": True, "incremental_update": True}
    # The seed's scheduled call, made by the platform admin (its "system token") for the tenant.
    seed = server.request("POST", "/api/v1/train", {"tenant_id": shop["tenant"]["id"], "model_type": "lightgcn",
                                                    "training_mode": "incremental", "auto_deploy": True},
                          token=ADMIN_TOKEN, port="ml")
    assert seed.status == 202, seed
    done = wait_done(server, key, seed.json()["job_id"])
    assert done["started_by"] == "platform admin" and done["trigger"] == {"reason": "manual"}
    assert done["training_mode"] == "incremental"


def advance(server, seconds):
    r = server.admin("POST", "/api/v1/admin/clock", {"advance_seconds": seconds})
    assert r.status == 200, r
    return r.json()["offset_seconds"]


def traffic(server, key, phase, answers, clicks):
    """`answers` recommendations, each to a visitor of its own, then views of
    `clicks` of the items they showed, each naming its answer."""
    shown = []
    for i in range(answers):
        user = f"V{phase}_{i}"
        r = server.request("POST", "/api/v1/recommendations", {"user_id": user, "count": 1}, token=key)
        assert r.status == 200, r
        a = r.json()
        shown.append((user, a["recommendations"][0]["item_id"], a["metadata"]["recommendation_id"]))
    events = [{"user_id": u, "item_id": item, "interaction_type": "view", "recommendation_id": rec}
              for u, item, rec in shown[:clicks]]
    for start in range(0, len(events), 500):
        r = server.request("POST", "/api/v1/interactions/batch", {"events": events[start:start + 500]}, token=key)
        assert r.status in (200, 207), r


def dashboard_clicks(server, shop):
    r = server.request("GET", f"/api/v1/analytics/tenant/{shop['tenant']['id']}/dashboard?period=last_7_days",
                       token=shop["api_key"])
    assert r.status == 200, r
    return r.json()["metrics"]["clicks"]


def test_a_click_through_drop_and_a_week_retrain_by_the_servers_clock(make_server, tmp_path):
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_RETRAIN_CHECK_SECONDS": "1", "EMBEDREC_TEST_CLOCK": "1"}
    server = make_server(env=env, data_dir=tmp_path / "data")
    shop = upload_shop(server, "weekly")
    key = shop["api_key"]
    # Scheduled versions replace the model at once (no experiment before the next trigger).
    assert server.admin("PATCH", f"/api/v1/admin/tenants/{shop['tenant']['id']}",
                        {"settings": {"training": QUICK, "retrain_experiment": False}}).status == 200
    assert wait_done(server, key, train(server, key).json()["job_id"])["status"] == "completed"

    # Its first day: 30 % of the answers clicked; two days later 10 %.
    traffic(server, key, "a", 1000, 300)
    advance(server, 2 * 86400)
    traffic(server, key, "b", 1000, 100)
    # Once analytics has counted it, the hourly look at every tenant finds the drop.
    wait_for(lambda: dashboard_clicks(server, shop) == 400, timeout=20, what="the clicks counted")
    advance(server, 3600)
    drop = wait_for(lambda: next((j for j in jobs(server, key) if j.get("started_by") == "system"), None),
                    timeout=30, what="a job for the click-through drop")
    assert drop["trigger"]["reason"] == "metric_drop", drop["trigger"]
    assert drop["trigger"]["metric"] == "ctr"
    assert drop["trigger"]["at_deployment"] == 0.3 and drop["trigger"]["last_day"] == 0.1
    wait_done(server, key, drop["job_id"])

    # A week (and the tenant's delay, at most a tenth of it) after that job: the interval.
    offset = advance(server, int(7.7 * 86400))
    week = wait_for(lambda: (lambda js: js[0] if len(js) == 3 else None)(jobs(server, key)),
                    timeout=30, what="a job for the interval")
    assert week["started_by"] == "system" and week["trigger"]["reason"] == "interval"
    assert week["trigger"]["days_since_last_training"] >= 7
    wait_done(server, key, week["job_id"])

    # A restart at the same time: nothing doubled.
    server.stop()
    server = make_server(env={**env, "EMBEDREC_CLOCK_OFFSET_SECONDS": str(offset)}, data_dir=tmp_path / "data")
    settle(server)
    assert len(jobs(server, key)) == 3
    assert server.admin("POST", "/api/v1/admin/clock", {"advance_seconds": -1}).status == 422
