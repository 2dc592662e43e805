"""Experiments between model versions through the HTTP API (issue 16):
users split by a stable hash, answers naming their arm, simulated shoppers
whose clicks follow a known ground truth (each version's true click-through),
and the service's own decisions — rollout step by step to a promotion, or a
rollback — surviving a restart; a scheduled retrain entering an experiment."""
import random

from conftest import ADMIN_TOKEN, wait_for
from test_retraining import jobs, track, upload_shop
from test_training import QUICK, train, wait_done

ENV = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_EXPERIMENT_CHECK_SECONDS": "1",
       "EMBEDREC_RETRAIN_CHECK_SECONDS": "0"}


def two_versions(server, key):
    """A deployed version and a stored one that is not: (control, challenger)."""
    first = wait_done(server, key, train(server, key).json()["job_id"])
    second = wait_done(server, key, train(server, key, {"epochs": 10}, auto_deploy=False).json()["job_id"])
    assert first["deployment_status"] == "deployed" and second["deployment_status"] == "standby"
    return first["model_version"], second["model_version"]


def create(server, key, body):
    return server.request("POST", "/api/v1/experiments", body, token=key, port="ml")


def get(server, key, exp_id):
    r = server.request("GET", f"/api/v1/experiments/{exp_id}", token=key, port="ml")
    assert r.status == 200, r
    return r.json()


def recommend(server, key, user):
    r = server.request("POST", "/api/v1/recommendations", {"user_id": user, "count": 3}, token=key)
    assert r.status == 200, r
    return r.json()


def shoppers(server, key, rng, ctr, visitors, tag):
    """`visitors` new shoppers, each shown recommendations once; a shopper
    views the first item with the true click-through of the version that
    answered (the ground truth), naming the answer. The arms seen."""
    events, arms = [], {}
    for i in range(visitors):
        user = f"S{tag}_{i}"
        a = recommend(server, key, user)
        meta = a["metadata"]
        arms[user] = (meta["arm"], meta["model_version"])
        if rng.random() < ctr[meta["model_version"]]:
            events.append({"user_id": user, "item_id": a["recommendations"][0]["item_id"],
                           "interaction_type": "view", "recommendation_id": meta["recommendation_id"]})
    if events:
        r = server.request("POST", "/api/v1/interactions/batch", {"events": events}, token=key)
        assert r.status in (200, 207), r
    return arms


def run_until(server, key, exp_id, ctr, done, seed=1, timeout=90):
    """Shoppers in rounds until `done(experiment)`; the experiment then."""
    rng = random.Random(seed)
    rounds = [0]

    def round_():
        rounds[0] += 1
        shoppers(server, key, rng, ctr, 60, f"{seed}_{rounds[0]}")
        e = get(server, key, exp_id)
        return e if done(e) else None
    return wait_for(round_, timeout=timeout, what="the experiment's decision")


def test_a_better_challenger_is_rolled_out_step_by_step_and_promoted_across_a_restart(make_server, tmp_path):
    server = make_server(env=ENV, data_dir=tmp_path / "data")
    shop = upload_shop(server, "experimenter")
    key = shop["api_key"]
    control, challenger = two_versions(server, key)

    r = create(server, key, {"name": "deeper model", "challenger": challenger, "traffic_share": 0.3,
                             "min_sample": 40, "rollout": [0.6, 0.8, 1]})
    assert r.status == 201, r
    e = r.json()
    assert e["status"] == "running" and e["control"] == control and e["challenger"] == challenger
    assert e["traffic_share"] == 0.3 and e["metric"] == "ctr" and e["started_by"].startswith("api key")
    # The split is the serving split too.
    t = server.request("GET", "/api/v1/models/traffic", token=key, port="ml").json()
    assert {v["model_version"] for v in t["versions"]} == {control, challenger}

    # Users are split by a stable hash; answers name the arm and its version.
    arms = {f"A{i}": recommend(server, key, f"A{i}")["metadata"] for i in range(300)}
    for meta in arms.values():
        assert meta["experiment_id"] == e["experiment_id"]
        assert (meta["arm"], meta["model_version"]) in (("control", control), ("challenger", challenger))
    share = sum(m["arm"] == "challenger" for m in arms.values()) / len(arms)
    assert 0.2 < share < 0.4, share
    for user in list(arms)[:30]:
        assert recommend(server, key, user)["metadata"]["arm"] == arms[user]["arm"]
    # A request naming a version is answered by it, outside the experiment.
    named = server.request("POST", "/api/v1/recommendations", {"user_id": "A1", "model_version": control},
                           token=key).json()["metadata"]
    assert named["model_version"] == control and named["arm"] is None
    # The log records the arm of each answer.
    rec_id = arms["A0"]["recommendation_id"]
    logged = server.request("GET", f"/api/v1/recommendations/log/{rec_id}", token=key).json()
    assert logged["experiment_id"] == e["experiment_id"] and logged["arm"] == arms["A0"]["arm"]

    # Ground truth: the challenger's answers are clicked 5 times as often.
    ctr = {control: 0.08, challenger: 0.4}
    stepped = run_until(server, key, e["experiment_id"], ctr, lambda x: x["step"] >= 1 or x["status"] != "running")
    assert stepped["status"] == "running" and stepped["step"] == 1 and stepped["traffic_share"] == 0.6, stepped
    assert stepped["p_value"] <= 0.05
    arms_c = stepped["statistics"]["arms"]
    assert arms_c["challenger"]["clicks"] > 0 and arms_c["control"]["impressions"] > 0
    assert stepped["statistics"]["relative_lift"] > 0
    before = {u: recommend(server, key, u)["metadata"]["arm"] for u in list(arms)[:50]}

    # A restart mid-rollout: the same step, the same users in the same arms.
    server.stop()
    server = make_server(env=ENV, data_dir=tmp_path / "data")
    resumed = get(server, key, e["experiment_id"])
    assert resumed["status"] == "running" and resumed["step"] == 1 and resumed["traffic_share"] == 0.6
    assert {u: recommend(server, key, u)["metadata"]["arm"] for u in before} == before

    done = run_until(server, key, e["experiment_id"], ctr, lambda x: x["status"] != "running", seed=2)
    assert done["status"] == "promoted", done
    assert done["decision"]["outcome"] == "challenger_won"
    steps = [h["traffic_share"] for h in done["history"] if h["event"] == "rollout_step"]
    assert steps == [0.6, 0.8]
    models = server.request("GET", "/api/v1/models", token=key, port="ml").json()
    assert models["serving_version"] == challenger
    meta = recommend(server, key, "A1")["metadata"]
    assert meta["model_version"] == challenger and meta["experiment_id"] is None and meta["arm"] is None
    listed = server.request("GET", "/api/v1/experiments", token=key, port="ml").json()
    assert listed["count"] == 1 and listed["experiments"][0]["status"] == "promoted"


def test_a_worse_challenger_is_rolled_back_and_bad_requests_are_refused(make_server, tmp_path):
    server = make_server(env=ENV, data_dir=tmp_path / "data")
    shop = upload_shop(server, "rollback")
    key = shop["api_key"]
    control, challenger = two_versions(server, key)

    bad = create(server, key, {"name": "x", "challenger": "v9.0_20990101"})
    assert bad.status == 404 and bad.json()["error"]["code"]
    bad = create(server, key, {"name": "x", "challenger": challenger, "traffic_share": 1.5})
    assert bad.status in (400, 422), bad
    bad = create(server, key, {"name": "x", "challenger": challenger, "rollout": [0.5]})
    assert bad.status == 422 and bad.json()["error"]["details"]["field"] == "rollout"
    bad = create(server, key, {"name": "x", "challenger": challenger, "control": challenger})
    assert bad.status == 409
    assert server.request("GET", "/api/v1/experiments/exp_nope", token=key, port="ml").status == 404

    r = create(server, key, {"name": "worse", "challenger": challenger, "traffic_share": 0.4, "min_sample": 40})
    assert r.status == 201, r
    exp_id = r.json()["experiment_id"]
    assert create(server, key, {"name": "second", "challenger": challenger}).status == 409

    done = run_until(server, key, exp_id, {control: 0.4, challenger: 0.05}, lambda x: x["status"] != "running")
    assert done["status"] == "rolled_back", done
    assert done["decision"]["outcome"] == "challenger_lost"
    assert "currency" not in done and "currency" not in recommend(server, key, "before")["metadata"], done
    t = server.request("GET", "/api/v1/models/traffic", token=key, port="ml").json()
    assert [v["model_version"] for v in t["versions"]] == [control]
    assert recommend(server, key, "after")["metadata"]["arm"] is None
    promote = server.request("POST", f"/api/v1/experiments/{exp_id}/promote", token=key, port="ml")
    assert promote.status == 409, promote

    # The shop names its currency: the arms' revenue and the answers' prices say what they are in.
    r = server.admin("PATCH", f"/api/v1/admin/tenants/{shop['tenant']['id']}", {"settings": {"currency": "eur"}})
    assert r.status == 200, r
    shown = recommend(server, key, "after the setting")
    assert shown["metadata"]["currency"] == "EUR", shown
    item = shown["recommendations"][0]["item_id"]
    similar = server.request("POST", "/api/v1/recommendations/similar", {"item_id": item}, token=key).json()
    popular = server.request("GET", "/api/v1/recommendations/popular", token=key).json()
    assert similar["metadata"]["currency"] == popular["metadata"]["currency"] == "EUR", (similar, popular)
    assert get(server, key, exp_id)["currency"] == "EUR"

    # Aborted by hand: the control alone serves again at once.
    r = create(server, key, {"name": "abort me", "challenger": challenger, "traffic_share": 0.5})
    assert r.status == 201 and r.json()["currency"] == "EUR", r
    aborted = server.request("POST", f"/api/v1/experiments/{r.json()['experiment_id']}/abort", token=key, port="ml")
    assert aborted.status == 200 and aborted.json()["status"] == "aborted", aborted
    listed = server.request("GET", "/api/v1/experiments", token=key, port="ml").json()["experiments"]
    assert {e["currency"] for e in listed} == {"EUR"}, listed
    assert aborted.json()["decision"]["reason"].startswith("aborted by api key")
    t = server.request("GET", "/api/v1/models/traffic", token=key, port="ml").json()
    assert [v["model_version"] for v in t["versions"]] == [control]


def test_a_scheduled_retrain_enters_an_experiment_instead_of_replacing_the_model(make_server):
    server = make_server(env={**ENV, "EMBEDREC_RETRAIN_CHECK_SECONDS": "1", "EMBEDREC_RETRAIN_MIN_GAP_SECONDS": "0"})
    shop = upload_shop(server, "scheduled-ab")
    key = shop["api_key"]
    assert server.admin("PATCH", f"/api/v1/admin/tenants/{shop['tenant']['id']}",
                        {"settings": {"training": QUICK, "retrain_min_new_interactions": 20,
                                      "deploy_tolerance": 1}}).status == 200
    first = wait_done(server, key, train(server, key).json()["job_id"])
    track(server, key, range(25))
    scheduled = wait_for(lambda: next((j for j in jobs(server, key) if j.get("started_by") == "system"), None),
                         timeout=30, what="a scheduled job")
    done = wait_done(server, key, scheduled["job_id"])
    assert done["status"] == "completed", done
    assert done["deployment_status"] == "experiment", done
    e = get(server, key, done["experiment_id"])
    assert e["status"] == "running" and e["started_by"] == "system"
    assert e["control"] == first["model_version"] and e["challenger"] == done["model_version"]
    assert e["traffic_share"] == 0.1
    models = server.request("GET", "/api/v1/models", token=key, port="ml").json()
    assert models["serving_version"] == first["model_version"]  # not replaced at once
