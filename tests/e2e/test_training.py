"""Seed step 6 through the HTTP API: training jobs, progress (polled and as
Server-Sent Events), the model registry, deployment, restarts."""
import http.client
import json
import math
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ADMIN_TOKEN, BIN, wait_for

SCOPES = ["data:write", "models:train", "models:read", "recommendations:read"]
QUICK = {"embedding_dim": 16, "num_layers": 2, "learning_rate": 0.01, "batch_size": 256,
         "epochs": 20, "eval_every": 5}
# A job that runs until stopped: no early stopping, so it cannot end on its own first.
LONG = {"epochs": 1000, "batch_size": 16, "patience": 0}


def shop_csvs(users=120, items=60, per_user=12, seed=3):
    """Two taste groups (items of the first or the second half), views then
    purchases, a day apart per event so the temporal split has a past."""
    rng = random.Random(seed)
    cats = ["cameras", "books"]
    items_csv = "item_id,name,category,price\n" + "".join(
        f"P{i},Item {i},{cats[i * 2 // items]},{10 + i}\n" for i in range(items))
    rows = ["user_id,item_id,interaction_type,timestamp"]
    t = 1_700_000_000
    for u in range(users):
        half = u % 2
        for k in range(per_user):
            i = half * (items // 2) + rng.randrange(items // 2)
            kind = "purchase" if rng.random() < 0.3 else "view"
            t += 60
            rows.append(f"U{u},P{i},{kind},{t}")
    return items_csv.encode(), ("\n".join(rows) + "\n").encode()


def upload_shop(server, slug):
    """A tenant with the planted shop uploaded; its onboarding record."""
    o = server.onboard(slug, scopes=SCOPES)
    items, interactions = shop_csvs()
    assert server.upload("/api/v1/upload/items", items, o["api_key"]).status == 200
    assert server.upload("/api/v1/upload/interactions", interactions, o["api_key"]).status == 200
    return o


def shop_server(make_server, slug, env=None):
    """A server of its own (for restarts) with one shop uploaded."""
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {})})
    return s, upload_shop(s, slug)


@pytest.fixture
def shop(server):
    return upload_shop(server, "trainer")


def train(server, key, hyper=None, **fields):
    body = {"model_type": "lightgcn", "hyperparameters": dict(QUICK, **(hyper or {}))}
    body.update(fields)
    return server.request("POST", "/api/v1/train", body, token=key, port="ml")


def progress(server, key, job_id):
    r = server.request("GET", f"/api/v1/training/{job_id}/progress", token=key, port="ml")
    assert r.status == 200, r
    return r.json()


def wait_done(server, key, job_id, timeout=60):
    return wait_for(lambda: (lambda p: p if p["status"] in ("completed", "failed", "cancelled")
                             else None)(progress(server, key, job_id)),
                    timeout=timeout, what=f"job {job_id} to finish")


def test_seed_step_6_train_progress_deploy(server, shop):
    key = shop["api_key"]
    r = train(server, key, tenant_id=shop["tenant"]["id"])
    assert r.status == 202, r
    a = r.json()
    assert a["job_id"].startswith("job_") and a["status"] in ("started", "queued")
    assert a["progress_url"] == f"/api/v1/training/{a['job_id']}/progress"
    assert 0 < a["estimated_duration_minutes"] < 5
    done = wait_done(server, key, a["job_id"])
    assert done["status"] == "completed", done
    assert done["progress"] == 1.0 and done["current_epoch"] == done["total_epochs"] == 20
    assert done["model_version"].startswith("v1.0_")
    fm = done["final_metrics"]
    for k in ("ndcg@10", "recall@20", "precision@10", "hit_rate@10", "mrr@10", "coverage@20"):
        assert 0 <= fm[k] <= 1, k
    # The planted tastes are learned: far above the ~1/3 recall of chance on one half.
    assert fm["recall@20"] > 0.5, fm
    assert done["deployment_status"] == "deployed"
    assert done["model_location"].endswith("/model.embr")
    assert done["model_location"].startswith("file:tenants/") and str(server.data_dir) not in done["model_location"]
    assert done["training_duration_seconds"] > 0
    assert 0 < done["metrics"]["train_loss"] < 0.7
    assert "val_ndcg@10" in done["metrics"] and "val_recall@20" in done["metrics"]
    # The record keeps the fit's curve, one point per epoch, validated ones with their ndcg.
    curve = done["curve"]
    assert [p["epoch"] for p in curve] == list(range(1, done["epochs_run"] + 1))
    assert all(p["train_loss"] > 0 for p in curve) and curve[-1]["train_loss"] < curve[0]["train_loss"]
    assert sum("val_ndcg@10" in p for p in curve) >= 2
    models = server.request("GET", "/api/v1/models", token=key, port="ml").json()
    assert models["serving_version"] == done["model_version"]
    [m] = models["models"]
    assert m["status"] == "deployed" and m["version"] == done["model_version"]
    # The stored metrics are read back through Boost.JSON 1.81, whose parser is
    # not correctly rounded: a number may come back one ulp away
    # ("0.23079534974025145" parses to ...143). Known, not yet fixed.
    assert m["size_bytes"] > 0 and math.isclose(m["metrics"]["ndcg@10"], fm["ndcg@10"], rel_tol=1e-15)
    assert m["index"]["kind"] == "exact_ip"
    assert m["hyperparameters"]["embedding_dim"] == 16
    topics = [e["topic"] for e in
              server.request("GET", "/api/v1/data/events", token=key).json()["events"]]
    assert topics[-1] == "model-deployed"
    jobs = server.request("GET", "/api/v1/training", token=key, port="ml").json()
    assert [j["job_id"] for j in jobs["jobs"]] == [a["job_id"]]


def test_the_estimate_and_the_time_taken_are_given_by_step(server, shop):
    key = shop["api_key"]
    steps = {"loading", "fit", "validation", "refit", "index", "storing"}
    r = train(server, key)
    assert r.status == 202, r
    a = r.json()
    est = a["estimated_phase_seconds"]
    assert set(est) == steps and all(v >= 0 for v in est.values()), est
    assert est["fit"] > 0 and est["refit"] > 0
    assert math.isclose(sum(est.values()), a["estimated_duration_seconds"], abs_tol=0.06)
    done = wait_done(server, key, a["job_id"])
    assert done["status"] == "completed", done
    assert done["estimated_phase_seconds"] == pytest.approx(est, abs=1e-6)  # kept in the record
    took = done["phase_seconds"]
    assert set(took) == steps and all(v >= 0 for v in took.values()), took
    # The steps are the job, one after the other.
    assert 0.8 * done["training_duration_seconds"] <= sum(took.values()) <= done["training_duration_seconds"]
    assert 0 < done["fit_evaluation_seconds"] < took["fit"]
    # Without a validation split there is no refit, estimated or taken.
    r = train(server, key, {"validation_split": 0})
    assert r.status == 202, r
    assert "refit" not in r.json()["estimated_phase_seconds"]
    done = wait_done(server, key, r.json()["job_id"])
    assert done["status"] == "completed", done
    assert "refit" not in done["phase_seconds"]


def test_progress_moves_and_arrives_as_server_sent_events(server, shop):
    key = shop["api_key"]
    job = train(server, key, {"epochs": 150, "eval_every": 10}).json()["job_id"]
    conn = http.client.HTTPConnection("127.0.0.1", server.ports["ml"], timeout=60)
    conn.request("GET", f"/api/v1/training/{job}/events", headers={"Authorization": f"Bearer {key}"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/event-stream"
    events = []
    kind = None
    while True:
        line = resp.readline().decode()
        assert line, "stream ended before the end event"
        if line.startswith("event: "):
            kind = line[7:].strip()
        elif line.startswith("data: "):
            events.append((kind, json.loads(line[6:])))
            if kind == "end":
                break
    conn.close()
    kinds = [k for k, _ in events]
    assert kinds[-1] == "end" and set(kinds[:-1]) == {"progress"}
    assert events[-1][1]["status"] == "completed"
    epochs = [d["current_epoch"] for _, d in events if d["status"] == "training"]
    assert len(epochs) >= 10 and epochs == sorted(epochs)
    fractions = [d["progress"] for _, d in events]
    assert fractions == sorted(fractions)
    statuses = []
    for _, d in events:
        if not statuses or statuses[-1] != d["status"]:
            statuses.append(d["status"])
    # Validated, then refit on all the data (training again, phase "refit"), then served.
    assert statuses[-5:] == ["evaluating", "training", "building_index", "deploying", "completed"]
    refit = [d for _, d in events if d.get("phase") == "refit"]
    assert refit and all(d["status"] == "training" for d in refit)
    assert events[-1][1]["refit"].startswith("refit on all data")
    # A finished job's stream is one end event.
    r = server.request("GET", f"/api/v1/training/{job}/events", token=key, port="ml")
    assert r.status == 200 and r.body.startswith("event: end\ndata: ")


def test_one_job_per_tenant_and_cancel(server, shop):
    key = shop["api_key"]
    job = train(server, key, LONG).json()["job_id"]
    wait_for(lambda: progress(server, key, job)["status"] == "training", what="training")
    r = train(server, key)
    assert r.status == 409, r
    err = r.json()["error"]
    assert err["code"] == "job_running" and err["details"]["job_id"] == job
    assert job in err["message"]
    r = server.request("POST", f"/api/v1/training/{job}/cancel", token=key, port="ml")
    assert r.status == 202, r
    done = wait_done(server, key, job)
    assert done["status"] == "cancelled" and done["error"]["reason"] == "cancelled"
    assert server.request("GET", "/api/v1/models", token=key, port="ml").json()["models"] == []
    r = server.request("POST", f"/api/v1/training/{job}/cancel", token=key, port="ml")
    assert r.status == 409 and r.json()["error"]["code"] == "job_finished"
    # The tenant may train again.
    assert train(server, key).status == 202


def test_a_batch_size_not_given_is_named_in_the_job(server, shop):
    """LightGCN's batch, when not given, follows the data (~32 steps per
    epoch, at least 2048): the answer and the job record say which."""
    key = shop["api_key"]
    hyper = {k: v for k, v in QUICK.items() if k != "batch_size"}
    r = server.request("POST", "/api/v1/train", {"model_type": "lightgcn", "hyperparameters": hyper},
                       token=key, port="ml")
    assert r.status == 202, r
    assert r.json()["hyperparameters"]["batch_size"] == 2048  # a small shop: the floor
    done = wait_done(server, key, r.json()["job_id"])
    assert done["status"] == "completed", done
    assert done["hyperparameters"]["batch_size"] == 2048


def test_item_knn_without_a_half_life_takes_the_datas_own_and_names_it(server):
    """item_knn's decay, when not given, is the median user's time from their
    newest event to the newest of all (at least 30 days): the job and the
    model's record name the number used; a given one is used as given."""
    o = server.onboard("decay", scopes=SCOPES)
    key = o["api_key"]
    items, _ = shop_csvs()
    rng = random.Random(5)
    rows, newest, t = ["user_id,item_id,interaction_type,timestamp"], {}, 1_600_000_000
    for u in range(120):
        for _ in range(12):
            t += 43_200  # half a day per event: two years in all, users one after another
            rows.append(f"U{u},P{(u % 2) * 30 + rng.randrange(30)},view,{t}")
            newest[u] = t
    assert server.upload("/api/v1/upload/items", items, key).status == 200
    assert server.upload("/api/v1/upload/interactions", ("\n".join(rows) + "\n").encode(), key).status == 200
    lags = sorted((t - v) / 86400 for v in newest.values())
    expected = lags[len(lags) // 2]  # ~360 days over all the data; the job's training split is a little shorter
    r = server.request("POST", "/api/v1/train", {"model_type": "item_knn"}, token=key, port="ml")
    assert r.status == 202 and "half_life_days" not in r.json()["hyperparameters"], r
    done = wait_done(server, key, r.json()["job_id"])
    assert done["status"] == "completed", done
    used = done["hyperparameters"]["half_life_days"]
    assert abs(used - expected) < 10, (used, expected)
    models = server.request("GET", "/api/v1/models", token=key, port="ml").json()["models"]
    [model] = [m for m in models if m["version"] == done["model_version"]]
    assert model["hyperparameters"]["half_life_days"] == used
    r = server.request("POST", "/api/v1/train", {"model_type": "item_knn", "hyperparameters": {"half_life_days": 7}},
                       token=key, port="ml")
    assert r.status == 202 and r.json()["hyperparameters"]["half_life_days"] == 7, r
    done = wait_done(server, key, r.json()["job_id"])
    assert done["status"] == "completed" and done["hyperparameters"]["half_life_days"] == 7, done


def test_a_time_budget_ends_a_lightgcn_fit_and_the_refit_trains_its_best_epochs(server, shop):
    """lightgcn and bpr_mf honour time_budget_seconds: the validated fit stops
    before an epoch would end past its share (35 %), keeps its best evaluated epoch, and the
    refit trains that many epochs anew on all the data (a fit stopped by its budget has not
    converged)."""
    key = shop["api_key"]
    hyper = {**LONG, "eval_every": 1, "learning_rate": 0.01}
    r = server.request("POST", "/api/v1/train", {"model_type": "lightgcn", "time_budget_seconds": 2,
                                                 "hyperparameters": hyper}, token=key, port="ml")
    assert r.status == 202, r
    assert r.json()["estimated_duration_seconds"] <= 2.5  # the budget bounds the estimate
    t0 = time.monotonic()
    done = wait_done(server, key, r.json()["job_id"])
    assert done["status"] == "completed", done
    assert done["time_budget_seconds"] == 2
    assert done["fit_stopped_by"] == "time_budget"
    assert 1 <= done["epochs_run"] < 1000
    # Stopped by its budget, not converged: the refit trains the best epochs anew.
    assert done["refit"].startswith(f"refit on all data: {done['best_epoch']} epochs (validation's best)")
    assert time.monotonic() - t0 < 30


def test_lightgcn_without_epochs_gets_the_default_budget_and_with_epochs_none(server, shop):
    key = shop["api_key"]
    r = server.request("POST", "/api/v1/train", {"model_type": "lightgcn", "hyperparameters": {"embedding_dim": 8}},
                       token=key, port="ml")
    assert r.status == 202, r
    done = wait_done(server, key, r.json()["job_id"], timeout=120)
    assert done["status"] == "completed", done
    assert done["time_budget_seconds"] == 1800
    assert "fit_stopped_by" not in done  # a small shop's epochs end long before
    r = train(server, key)  # QUICK gives epochs: trained as asked
    done = wait_done(server, key, r.json()["job_id"])
    assert "time_budget_seconds" not in done and done["epochs_run"] <= QUICK["epochs"]


def test_the_softmax_loss_is_a_jobs_choice(server, shop):
    """softmax_negatives > 0 trains lightgcn and bpr_mf with the sampled
    softmax (its own L2 when reg is not given); the record names it, and
    the model serves."""
    key = shop["api_key"]
    for model in ("lightgcn", "bpr_mf"):
        r = server.request("POST", "/api/v1/train", {"model_type": model, "hyperparameters": {
            **QUICK, "softmax_negatives": 32, "learning_rate": 0.01}}, token=key, port="ml")
        assert r.status == 202, r
        assert r.json()["hyperparameters"]["softmax_negatives"] == 32
        done = wait_done(server, key, r.json()["job_id"])
        assert done["status"] == "completed", done
        h = done["hyperparameters"]
        assert (h["softmax_negatives"], h["temperature"], h["reg"]) == (32, 1, 0.05)
        assert done["final_metrics"]["ndcg@10"] > 0
    recs = server.request("POST", "/api/v1/recommendations", {"user_id": "U1", "count": 5}, token=key)
    assert recs.status == 200 and len(recs.json()["recommendations"]) == 5, recs
    # BPR stays the default.
    r = train(server, key)
    assert r.json()["hyperparameters"]["softmax_negatives"] == 0
    wait_done(server, key, r.json()["job_id"])


@pytest.mark.parametrize("hyper,field,lo,hi", [
    ({"learning_rate": 0}, "hyperparameters.learning_rate", "0", "1"),
    ({"embedding_dim": 100000}, "hyperparameters.embedding_dim", "2", "512"),
    ({"epochs": 2.5}, "hyperparameters.epochs", "1", "1000"),
    ({"negative_samples": -1}, "hyperparameters.negative_samples", "1", "64"),
    ({"softmax_negatives": 70000}, "hyperparameters.softmax_negatives", "0", "65536"),
])
def test_invalid_hyperparameters_name_the_field_and_range(server, shop, hyper, field, lo, hi):
    r = train(server, shop["api_key"], hyper)
    assert r.status == 422, r
    e = r.json()["error"]
    assert e["details"]["field"] == field
    assert (e["details"]["min"], e["details"]["max"]) == (lo, hi)
    assert field in e["message"]


@pytest.mark.parametrize("body,status,field", [
    ({"hyperparameters": {"epochs": "ten"}}, 400, "hyperparameters.epochs"),
    ({"hyperparameters": {"learning_rat": 0.1}}, 422, "hyperparameters.learning_rat"),
    ({"model_type": "transformer"}, 422, "model_type"),
    ({"training_mode": "partial"}, 422, "training_mode"),
    ({"auto_deploy": "yes"}, 400, "auto_deploy"),
])
def test_malformed_requests(server, shop, body, status, field):
    r = server.request("POST", "/api/v1/train", body, token=shop["api_key"], port="ml")
    assert r.status == status, r
    assert r.json()["error"]["details"]["field"] == field


def test_no_or_too_little_data_is_refused(server):
    o = server.onboard("empty", scopes=SCOPES)
    r = train(server, o["api_key"])
    assert r.status == 422, r
    assert "not enough data" in r.json()["error"]["message"]
    r = train(server, o["api_key"], training_mode="incremental")
    assert r.status == 422


def test_scopes_and_tenants(server, shop):
    reader = server.create_key(shop["jwt"], ["recommendations:read"], name="reader")["api_key"]
    assert train(server, reader).status == 403
    other = server.onboard("other", scopes=SCOPES)
    job = train(server, shop["api_key"]).json()["job_id"]
    # Another tenant cannot see the job, cancel it or name the first tenant.
    r = server.request("GET", f"/api/v1/training/{job}/progress", token=other["api_key"], port="ml")
    assert r.status == 404
    r = server.request("POST", f"/api/v1/training/{job}/cancel", token=other["api_key"], port="ml")
    assert r.status == 404
    r = train(server, other["api_key"], tenant_id=shop["tenant"]["id"])
    assert r.status == 403
    wait_done(server, shop["api_key"], job)


def test_gate_standby_rollback_and_delete(server, shop):
    key = shop["api_key"]
    first = wait_done(server, key, train(server, key).json()["job_id"])
    v1 = first["model_version"]
    # Not deployed on request: kept as standby with the reason.
    second = wait_done(server, key, train(server, key, auto_deploy=False).json()["job_id"])
    assert second["deployment_status"] == "standby"
    assert second["deployment_reason"] == "auto_deploy is false"
    # A much worse model fails the gate: popularity, half the deployed one's
    # ndcg@10 here. (An untrained lightgcn no longer does: its reranker,
    # which reads the category of each user's newest events, serves nearly
    # as well on this two-category shop, and the gate judges what is served.)
    worse = wait_done(server, key, train(server, key, model_type="popularity").json()["job_id"])
    assert worse["deployment_status"] == "standby", worse
    # Refused by the first gate it fails: popularity on the same split, or the deployed model.
    assert ("below the deployed " + v1 in worse["deployment_reason"]
            or "does not beat popularity" in worse["deployment_reason"]), worse
    models = {m["version"]: m for m in
              server.request("GET", "/api/v1/models", token=key, port="ml").json()["models"]}
    assert [models[v]["status"] for v in (v1, second["model_version"], worse["model_version"])] == \
        ["deployed", "standby", "standby"]
    # Roll forward to the second, then back to the first.
    v2 = second["model_version"]
    r = server.request("POST", f"/api/v1/models/{v2}/deploy", token=key, port="ml")
    assert r.status == 200 and r.json()["status"] == "deployed", r
    listing = server.request("GET", "/api/v1/models", token=key, port="ml").json()
    assert listing["serving_version"] == v2
    assert {m["version"]: m["status"] for m in listing["models"]}[v1] == "archived"
    r = server.request("POST", f"/api/v1/models/{v1}/deploy", token=key, port="ml")
    assert r.status == 200
    assert server.request("GET", "/api/v1/models", token=key, port="ml").json()["serving_version"] == v1
    # The deployed version cannot be deleted; another can, and its files go.
    r = server.request("DELETE", f"/api/v1/models/{v1}", token=key, port="ml")
    assert r.status == 409, r
    r = server.request("DELETE", f"/api/v1/models/{worse['model_version']}", token=key, port="ml")
    assert r.status == 204, r
    blobs = server.data_dir / "tenants" / shop["tenant"]["id"] / "blobs" / "models"
    assert not (blobs / worse["model_version"]).exists() or \
        not any((blobs / worse["model_version"]).iterdir())
    assert server.request("DELETE", "/api/v1/models/v9.9_20990101", token=key, port="ml").status == 404
    assert server.request("POST", "/api/v1/models/v9.9_20990101/deploy", token=key, port="ml").status == 404


def test_incremental_continues_the_deployed_model(server, shop):
    key = shop["api_key"]
    full = wait_done(server, key, train(server, key).json()["job_id"])
    # The gate is not what this test is about (the metrics' 0.9x is asserted
    # below): a three-epoch continuation on this small shop, trained on two
    # threads, varies, and loaded runs were refused at 5 % (validation
    # ndcg@10 0.2325 against 0.2451) and at 10 % (0.2440 against 0.2808).
    r = server.request("POST", "/api/v1/train", {"training_mode": "incremental", "deploy_tolerance": 0.25,
                                                 "hyperparameters": {"embedding_dim": 16, "num_layers": 2,
                                                                     "batch_size": 256, "epochs": 3}},
                       token=key, port="ml")
    assert r.status == 202, r
    inc = wait_done(server, key, r.json()["job_id"])
    assert inc["status"] == "completed", inc
    major = full["model_version"].split(".")[0]
    assert inc["model_version"].startswith(major + ".1_")
    # Three epochs from the deployed embeddings keep (about) the full model's quality.
    assert inc["final_metrics"]["ndcg@10"] >= 0.9 * full["final_metrics"]["ndcg@10"]
    assert inc["deployment_status"] == "deployed", (inc["deployment_reason"], inc["final_metrics"], full["final_metrics"])
    # It continues a model refit on all data: its validation is flagged as not held out.
    assert inc["validation_held_out"] is False and "optimistic" in inc["deployment_reason"]
    assert full["validation_held_out"] is True
    r = train(server, key, {"embedding_dim": 32}, training_mode="incremental")
    job = r.json()["job_id"]
    failed = wait_done(server, key, job)
    assert failed["status"] == "failed" and "embedding_dim" in failed["error"]["message"]


def thread_priorities(pid):
    """(policy, nice) of each of the process's threads (Linux /proc)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            policy = next(int(line.split(":")[1]) for line in (task / "sched").read_text().splitlines()
                          if line.startswith("policy"))
            nice = int((task / "stat").read_text().rsplit(")", 1)[1].split()[16])
        except (OSError, StopIteration):
            continue  # a thread that ended meanwhile
        out.append((policy, nice))
    return out


@pytest.mark.parametrize("priority", [None, "17"])
def test_training_runs_at_idle_priority_or_the_niceness_given(make_server, priority):
    SCHED_OTHER, SCHED_IDLE = 0, 5
    base = os.getpriority(os.PRIO_PROCESS, 0)  # the server inherits the test's niceness
    if priority and int(priority) <= base:
        pytest.skip(f"the tests run at niceness {base}: a job's {priority} would not differ")
    s, o = shop_server(make_server, "priority", {"EMBEDREC_TRAINING_PRIORITY": priority} if priority else {})
    key = o["api_key"]
    job = train(s, key, LONG).json()["job_id"]
    wait_for(lambda: progress(s, key, job)["current_epoch"] >= 1, what="an epoch")
    seen = thread_priorities(s.proc.pid)
    if priority is None:
        assert any(p[0] == SCHED_IDLE for p in seen), seen  # the job's worker and its OpenMP threads
        assert (SCHED_OTHER, 17) not in seen
    else:
        assert (SCHED_OTHER, int(priority)) in seen, seen
        assert not any(p[0] == SCHED_IDLE for p in seen), seen
    assert (SCHED_OTHER, base) in seen  # requests' threads keep the process's priority
    assert s.request("POST", f"/api/v1/training/{job}/cancel", token=key, port="ml").status == 202
    wait_done(s, key, job)


def test_an_invalid_training_priority_stops_the_start(tmp_path):
    env = dict(os.environ, EMBEDREC_DATA_DIR=str(tmp_path / "data"), EMBEDREC_TRAINING_PRIORITY="20",
               EMBEDREC_GATEWAY_PORT="0", EMBEDREC_ML_PORT="0", EMBEDREC_PIPELINE_PORT="0")
    p = subprocess.run([BIN, "serve"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "not idle nor a niceness 0-19: 20" in p.stdout + p.stderr


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_restart_during_training_marks_the_job_interrupted(make_server, sig):
    s, o = shop_server(make_server, "restart")
    key = o["api_key"]
    first = wait_done(s, key, train(s, key).json()["job_id"])
    job = train(s, key, LONG).json()["job_id"]
    wait_for(lambda: progress(s, key, job)["current_epoch"] >= 1, what="an epoch")
    s.stop(sig)
    s.start()
    p = progress(s, key, job)
    assert p["status"] == "failed", p
    assert p["error"]["reason"] == "interrupted"
    # The deployed model is served again after the restart.
    models = s.request("GET", "/api/v1/models", token=key, port="ml").json()
    assert models["serving_version"] == first["model_version"]
    assert s.request("GET", "/readyz").json()["checks"]["models"] == "ok"
    assert train(s, key).status == 202  # nothing left running


def test_corrupt_deployed_model_falls_back_to_the_previous_version(make_server):
    s, o = shop_server(make_server, "fallback")
    key = o["api_key"]
    v1 = wait_done(s, key, train(s, key).json()["job_id"])["model_version"]
    v2 = wait_done(s, key, train(s, key, deploy_tolerance=1).json()["job_id"])["model_version"]
    assert s.request("GET", "/api/v1/models", token=key, port="ml").json()["serving_version"] == v2
    s.stop()
    path = s.data_dir / "tenants" / o["tenant"]["id"] / "blobs" / "models" / v2 / "model.embr"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    s.start()
    # Models are read on a tenant's first request: nothing to report before it.
    assert s.request("GET", "/readyz").json()["checks"]["models"] == "ok"
    models = s.request("GET", "/api/v1/models", token=key, port="ml").json()
    assert models["serving_version"] == v1 and v2 in models["problem"]
    ready = s.request("GET", "/readyz")
    assert ready.status == 200
    problem = ready.json()["checks"]["models"]["problems"][o["tenant"]["id"]]
    assert v2 in problem and "serving " + v1 in problem
    # Deploying the damaged version by hand is refused; nothing changes.
    r = s.request("POST", f"/api/v1/models/{v2}/deploy", token=key, port="ml")
    assert r.status == 409 and "cannot be loaded" in r.json()["error"]["message"]


def test_event_streams_end_with_the_client_or_the_server(make_server):
    s, o = shop_server(make_server, "streams", {"EMBEDREC_SHUTDOWN_GRACE": "30"})
    key = o["api_key"]
    job = train(s, key, LONG).json()["job_id"]

    def open_stream():
        conn = http.client.HTTPConnection("127.0.0.1", s.ports["ml"], timeout=30)
        conn.request("GET", f"/api/v1/training/{job}/events",
                     headers={"Authorization": f"Bearer {key}"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.readline().startswith(b"event: progress")
        return conn, resp

    # Clients that go away: the server drops their subscriptions and goes on.
    for _ in range(5):
        conn, _ = open_stream()
        conn.close()
    assert s.request("GET", "/healthz").status == 200
    # A client still listening when the server stops: its stream ends, and the
    # process exits without waiting out the grace period.
    conn, resp = open_stream()
    start = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    while resp.readline():
        pass
    s.proc.wait(timeout=20)
    assert time.monotonic() - start < 15
    conn.close()


def test_deleting_a_tenant_stops_its_training_and_forgets_its_model(server, shop):
    key = shop["api_key"]
    wait_done(server, key, train(server, key).json()["job_id"])
    job = train(server, key, LONG).json()["job_id"]
    wait_for(lambda: progress(server, key, job)["status"] == "training", what="training")
    tid = shop["tenant"]["id"]
    r = server.admin("DELETE", f"/api/v1/admin/tenants/{tid}")
    assert r.status == 204, r
    assert not (server.data_dir / "tenants" / tid).exists()
    assert server.request("GET", "/api/v1/models", token=key, port="ml").status == 401
    assert server.request("GET", "/readyz").json()["checks"]["models"] == "ok"
    assert server.request("GET", "/healthz").status == 200
