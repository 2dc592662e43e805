"""Issue 12 through the HTTP API: model_type auto (trials, budget), the lift
over popularity in job records and the gate that refuses a model below it,
a new visitor steered by what they view, exclusions over a long history,
trending that one visitor cannot take over, the tenant's interaction
weights used by serving, and the reranker fitted on the validation split."""
import csv
import datetime
import io
import math
import random
import subprocess

import pytest

from conftest import BIN
from test_recommendations import CAMERAS, items_csv_with_attributes, recommend
from test_training import ADMIN_TOKEN, SCOPES, shop_csvs, train, wait_done


def onboard(server, slug, settings=None, interactions=None):
    o = server.onboard(slug, scopes=SCOPES + ["interactions:write"])
    if settings:
        r = server.admin("PATCH", f"/api/v1/admin/tenants/{o['tenant']['id']}", {"settings": settings})
        assert r.status == 200, r
    _, shop = shop_csvs()
    assert server.upload("/api/v1/upload/items", items_csv_with_attributes(), o["api_key"]).status == 200
    assert server.upload("/api/v1/upload/interactions", interactions or shop, o["api_key"]).status == 200
    return o


def bestsellers_csv(users=150, per_user=10, seed=4):
    """No tastes at all: everyone buys by a steep power law over P0..P59."""
    rng = random.Random(seed)
    weights = [1 / (i + 1) ** 1.2 for i in range(60)]
    rows, t = ["user_id,item_id,interaction_type,timestamp"], 1_700_000_000
    for u in range(users):
        for k in range(per_user):
            t += 60
            rows.append(f"U{u},P{rng.choices(range(60), weights)[0]},purchase,{t}")
    return ("\n".join(rows) + "\n").encode()


def track(server, key, user, item, kind="view", ts=None):
    body = {"user_id": user, "item_id": item, "interaction_type": kind}
    if ts:
        body["timestamp"] = ts
    r = server.request("POST", "/api/v1/interactions", body, token=key)
    assert r.status in (200, 201, 202), r


def test_auto_lists_its_trials_honours_the_budget_and_serves_the_best(server):
    o = onboard(server, "auto")
    key = o["api_key"]
    r = server.request("POST", "/api/v1/train", {"model_type": "auto", "time_budget_seconds": 30,
                                                  "hyperparameters": {"embedding_dim": 16}},
                       token=key, port="ml")
    assert r.status == 202, r
    done = wait_done(server, key, r.json()["job_id"], timeout=120)
    assert done["status"] == "completed", done
    trials = done["trials"]
    kinds = {t["model_type"] for t in trials}
    assert {"ease", "als", "lightgcn"} <= kinds, kinds
    completed = [t for t in trials if t["status"] == "completed" and t["model_type"] != "blend"]
    blends = [t for t in trials if t["model_type"] == "blend"]
    assert len(completed) >= 3
    for t in completed:
        assert 0 <= t["val_ndcg@10"] <= 1 and t["seconds"] >= 0
        assert t["hyperparameters"]["embedding_dim"] == 16  # given: honoured in every trial
    for t in blends:  # of two trained trials' models, each as its trial had it
        parts = t["hyperparameters"]["blend"]
        assert len(parts) == 2 and parts[0]["model_type"] != parts[1]["model_type"], t
        assert all(p["hyperparameters"]["embedding_dim"] == 16 and 0 < p["weight"] < 1 for p in parts), t
        assert t["status"] != "completed" or 0 <= t["val_served_ndcg@10"] <= 1
    for t in trials:
        assert t["status"] in ("completed", "skipped", "failed"), t
    assert done["search_seconds"] <= done["time_budget_seconds"] + 5
    [best] = [t for t in trials if t.get("chosen")]
    def unreranked(t):  # steered where that beats the model's own by more than 1 % (ml::Steering::kMinSeenGain)
        steered = t.get("val_steered_ndcg@10", 0)
        return steered if steered > 1.01 * t["val_ndcg@10"] else t["val_ndcg@10"]
    for t in completed:  # as it would be served: steered where better, reranked where the reranker is kept
        assert t["val_served_ndcg@10"] >= unreranked(t) - 1e-12, t
        assert ("val_reranked_ndcg@10" in t) or t["val_served_ndcg@10"] == unreranked(t), t
    top = max(completed, key=lambda t: t["val_served_ndcg@10"])
    if best["model_type"] == "blend":
        # A blend only when it beats every single trial by more than 3 %.
        assert best["val_served_ndcg@10"] > 1.03 * top["val_served_ndcg@10"], (best, top)
    else:
        # The best figure, or one alike (within 1 %) that took less time.
        assert best["val_served_ndcg@10"] >= 0.99 * top["val_served_ndcg@10"], (best, top)
        assert best is top or best["seconds"] < top["seconds"], (best, top)
    assert done["chosen_model_type"] == best["model_type"]
    assert done["refit"].startswith("refit on all data")
    models = server.request("GET", "/api/v1/models", token=key, port="ml").json()["models"]
    assert [m["model_type"] for m in models if m["status"] == "deployed"] == [best["model_type"]]
    # The job's validation is the chosen trial's judgement (not a second one).
    [deployed] = [m for m in models if m["status"] == "deployed"]
    assert math.isclose(deployed["metrics"]["served_ndcg@10"], best["val_served_ndcg@10"], rel_tol=1e-12)
    assert math.isclose(done["final_metrics"]["hit_rate@20"], best["val_hit_rate@20"], rel_tol=1e-12)
    a = recommend(server, key, {"user_id": "U0", "count": 10})
    assert a["metadata"]["algorithm"] == best["model_type"]
    assert sum(x["item_id"] in CAMERAS for x in a["recommendations"]) >= 8
    # Read back from its file after a restart, it serves the same list, and
    # folds in a visitor.
    server.stop()
    server.start()
    again = recommend(server, key, {"user_id": "U0", "count": 10})
    assert [x["item_id"] for x in again["recommendations"]] == [x["item_id"] for x in a["recommendations"]]
    for item in sorted(CAMERAS)[:3]:
        track(server, key, "auto-visitor", item)
    visitor = recommend(server, key, {"user_id": "auto-visitor", "count": 10})["recommendations"]
    cold = recommend(server, key, {"user_id": "nobody-yet", "count": 10})["recommendations"]
    cameras = lambda recs: sum(x["item_id"] in CAMERAS for x in recs)  # noqa: E731
    # A cold user's list is half cameras here: the visitor's must follow their views.
    assert cameras(visitor) >= 8 and cameras(visitor) > cameras(cold), (visitor, cold)
    # A tight budget: trials that would overrun it are skipped and say so;
    # the search ends within the budget plus at most the trial under way.
    r = server.request("POST", "/api/v1/train", {"model_type": "auto", "time_budget_seconds": 1},
                       token=key, port="ml")
    small = wait_done(server, key, r.json()["job_id"], timeout=60)
    assert small["status"] == "completed", small
    longest = max(t.get("seconds", 0) for t in small["trials"])
    assert small["search_seconds"] <= 1 + longest + 0.5
    for t in small["trials"]:
        assert t["status"] == "completed" or (t["status"] == "skipped" and "budget" in t["reason"]), t


def test_a_blend_a_request_names_is_trained_served_and_survives_a_restart(make_server):
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    o = onboard(server, "blend")
    key = o["api_key"]
    parts = [{"model_type": "ease", "weight": 0.4, "hyperparameters": {"lambda": 100}},
             {"model_type": "lightgcn", "weight": 0.6,
              "hyperparameters": {"embedding_dim": 16, "num_layers": 2, "epochs": 20, "eval_every": 5,
                                  "softmax_negatives": 16, "learning_rate": 0.02}}]
    # What cannot be trained is refused before any work, naming the field.
    for body, field in (({"model_type": "blend"}, "hyperparameters.blend"),
                        ({"model_type": "blend", "hyperparameters": {"blend": parts[:1]}}, "hyperparameters.blend"),
                        ({"model_type": "blend", "hyperparameters": {"blend": [parts[0], dict(parts[1], weight=0)]}},
                         "hyperparameters.blend[1].weight"),
                        ({"model_type": "blend", "training_mode": "incremental",
                          "hyperparameters": {"blend": parts}}, "training_mode")):
        r = server.request("POST", "/api/v1/train", body, token=key, port="ml")
        assert r.status == 422 and r.json()["error"]["details"]["field"] == field, (body, r)
    r = server.request("POST", "/api/v1/train", {"model_type": "blend", "hyperparameters": {"blend": parts}},
                       token=key, port="ml")
    assert r.status == 202, r
    done = wait_done(server, key, r.json()["job_id"], timeout=120)
    assert done["status"] == "completed" and done["deployment_status"] == "deployed", done
    assert done["model_type"] == "blend"
    assert [p["model_type"] for p in done["hyperparameters"]["blend"]] == ["ease", "lightgcn"]
    assert [p["weight"] for p in done["hyperparameters"]["blend"]] == [0.4, 0.6]
    assert done["hyperparameters"]["blend"][0]["hyperparameters"]["lambda"] == 100
    assert done["refit"].startswith("refit on all data: each part of the blend (ease "), done["refit"]
    assert "lightgcn" in done["refit"] and "continuing its validated fit" in done["refit"], done["refit"]
    assert {p["part"] for p in done["curve"]} == {1, 2}  # each part's fit drew its curve
    assert done["lift"]["ndcg@10"] > 1, done["lift"]
    models = server.request("GET", "/api/v1/models", token=key, port="ml").json()["models"]
    assert [m["model_type"] for m in models if m["status"] == "deployed"] == ["blend"]

    def served():
        a = recommend(server, key, {"user_id": "U0", "count": 10})
        assert a["metadata"]["algorithm"] == "blend", a["metadata"]
        recs = [x["item_id"] for x in a["recommendations"]]
        assert len(recs) == 10 and sum(i in CAMERAS for i in recs) >= 8, recs  # U0's taste: the first half
        r = server.request("POST", "/api/v1/recommendations/similar", {"item_id": "P40", "count": 5}, token=key)
        assert r.status == 200, r
        sims = [x["item_id"] for x in r.json()["similar_items"]]
        assert len(sims) == 5 and "P40" not in sims and sum(i not in CAMERAS for i in sims) >= 4, sims
        # A new visitor is folded in through both parts and follows what they viewed.
        visitor = f"visitor-{random.randrange(10**9)}"
        for n, item in enumerate(["P33", "P38", "P41", "P50", "P57"]):
            track(server, key, visitor, item, ts=f"2023-11-15T10:0{n}:00Z")
        recs = recommend(server, key, {"user_id": visitor, "count": 10})["recommendations"]
        assert sum(x["item_id"] not in CAMERAS for x in recs) >= 8, recs
        return recs

    served()
    # Read back from its file after a restart, it serves the same way.
    server.stop()
    server.start()
    served()


def test_similar_items_take_the_category_share_the_job_measured(server):
    o = onboard(server, "similar")
    key = o["api_key"]
    r = server.request("POST", "/api/v1/train", {"model_type": "als", "hyperparameters": {"embedding_dim": 16}},
                       token=key, port="ml")
    done = wait_done(server, key, r.json()["job_id"])
    assert done["status"] == "completed", done
    sim = done["similar_items"]
    hits = sim["hit@20_by_category_share"]
    assert set(hits) == {"0", "0.25", "0.5", "0.75", "1"} and all(0 <= h <= 1 for h in hits.values()), sim
    assert sim["users"] > 0
    # The share whose lists held a held-out item most often (ties: the smaller).
    best = max(hits.values())
    assert sim["category_share"] == min(float(s) for s, h in hits.items() if h == best), sim
    models = server.request("GET", "/api/v1/models", token=key, port="ml").json()["models"]
    [deployed] = [m for m in models if m["status"] == "deployed"]
    assert deployed["metrics"]["similar_items"]["category_share"] == sim["category_share"]
    for anchor in ("P3", "P40"):
        r = server.request("POST", "/api/v1/recommendations/similar", {"item_id": anchor, "count": 8}, token=key)
        assert r.status == 200, r
        items = r.json()["similar_items"]
        scores = [x["similarity_score"] for x in items]
        assert len(items) == 8 and scores == sorted(scores, reverse=True) and all(0 <= x <= 1 for x in scores)
        if sim["category_share"] == 1:  # the anchor's category's bestsellers alone
            assert all((x["item_id"] in CAMERAS) == (anchor in CAMERAS) for x in items), items


def test_every_job_reports_its_lift_and_the_gate_refuses_a_model_below_popularity(server):
    o = onboard(server, "lift")
    key = o["api_key"]
    good = wait_done(server, key, train(server, key).json()["job_id"])
    assert good["deployment_status"] == "deployed"
    base = good["baseline"]
    assert base["model_type"] == "popularity" and 0 <= base["val_ndcg@10"] <= 1
    assert good["data"]["validation_excludes"] == "purchased"  # what serving leaves out ("auto", with purchases)
    lift = good["lift"]
    assert lift["baseline"] == "popularity"
    models = server.request("GET", "/api/v1/models", token=key, port="ml").json()["models"]
    # Of what is served: the second stage's figure where it is kept.
    served = models[0]["metrics"]["served_ndcg@10"]
    assert served >= good["final_metrics"]["ndcg@10"] * (1 - 1e-12)  # the records' JSON: a last digit apart
    assert abs(lift["ndcg@10"] - served / base["val_ndcg@10"]) < 1e-9
    assert lift["ndcg@10"] > 1
    assert abs(models[0]["metrics"]["lift"]["ndcg@10"] - lift["ndcg@10"]) < 1e-9  # Boost.JSON 1.81 parses the last digit loosely
    # A shop where only popularity matters, and a model that learned nothing
    # (one epoch at a vanishing learning rate): refused, popularity serves.
    o2 = onboard(server, "lift2", interactions=bestsellers_csv())
    first = wait_done(server, o2["api_key"],
                      train(server, o2["api_key"], {"epochs": 1, "learning_rate": 1e-7}).json()["job_id"])
    assert first["status"] == "completed"
    assert first["deployment_status"] == "standby", first
    assert "does not beat popularity" in first["deployment_reason"]
    assert "popularity keeps serving" in first["deployment_reason"]
    assert first["lift"]["ndcg@10"] < 1
    assert server.request("GET", "/api/v1/models", token=o2["api_key"], port="ml").json()["serving_version"] in (None, "")
    a = recommend(server, o2["api_key"], {"user_id": "U0", "count": 5})
    assert a["metadata"]["algorithm"] == "popularity" and len(a["recommendations"]) == 5


def test_validation_leaves_out_what_the_tenant_excludes_from_recommendations(server):
    # A tenant that never shows a user anything they interacted with: the
    # job judges its models with all of it left out, as served.
    o = onboard(server, "excludeall", settings={"exclude_from_recommendations": "all_interacted"})
    key = o["api_key"]
    done = wait_done(server, key, train(server, key).json()["job_id"])
    assert done["status"] == "completed", done
    assert done["data"]["validation_excludes"] == "all_interacted", done["data"]
    history = server.request("GET", "/api/v1/users/U0/interactions?limit=500", token=key).json()["interactions"]
    seen = {e["item_id"] for e in history}
    assert seen
    recs = recommend(server, key, {"user_id": "U0", "count": 20})["recommendations"]
    assert recs and not {x["item_id"] for x in recs} & seen


def test_a_new_visitor_is_steered_by_what_they_view(server):
    # Timestamps as the seed's page sends them: in the uploaded data's own
    # past, long before the server's clock.
    o = onboard(server, "steer")
    key = o["api_key"]
    done = wait_done(server, key, train(server, key).json()["job_id"])
    assert done["deployment_status"] == "deployed"
    for kind, items in (("cameras", ["P3", "P7", "P12", "P20", "P25"]),
                        ("books", ["P33", "P38", "P41", "P50", "P57"])):
        visitor = f"visitor-{kind}"
        for n, item in enumerate(items):
            track(server, key, visitor, item, ts=f"2023-11-15T10:0{n}:00Z")
        recs = recommend(server, key, {"user_id": visitor, "count": 10})["recommendations"]
        share = sum((x["item_id"] in CAMERAS) == (kind == "cameras") for x in recs) / len(recs)
        assert share >= 0.8, (kind, recs)
    # A known user who starts a new session in the other category follows it at once.
    before = recommend(server, key, {"user_id": "U0", "count": 10})["recommendations"]
    assert sum(x["item_id"] in CAMERAS for x in before) >= 8
    for n, item in enumerate(["P31", "P35", "P44", "P52", "P58", "P47"]):
        track(server, key, "U0", item)
    after = recommend(server, key, {"user_id": "U0", "count": 10})["recommendations"]
    assert sum(x["item_id"] not in CAMERAS for x in after) >= 5, after


def drifting_csv(users=300, seed=6):
    """Two sessions of eight events in the user's home category, then a last
    one of six in the other, each within the user's half of the category (a
    taste popularity cannot see): in this shop the newest events predict
    what comes next. Sized so that steering's gain (0.016-0.027 ndcg@10 in
    24 runs) stands clear of the run-to-run spread: each upload numbers its
    new users in the order of a freshly keyed hash, so no two trainings see
    the same row order (160 users and 6-event sessions gained 0.001-0.024,
    and once lost)."""
    rng = random.Random(seed)
    rows = ["user_id,item_id,interaction_type,timestamp"]
    for u in range(users):
        t = 1_700_000_000 + 60 * u  # everyone's sessions on the same days
        home, taste = (0 if u % 2 == 0 else 30), 15 * ((u // 2) % 2)
        for session, base in enumerate((home, home, 30 - home)):
            t += 5 * 86400
            n = 6 if session == 2 else 8
            for k, i in enumerate(rng.sample(range(base + taste, base + taste + 15), n)):
                rows.append(f"U{u},P{i},{'purchase' if k == n - 1 else 'view'},{t + 60 * k}")
    return ("\n".join(rows) + "\n").encode()


def test_a_known_user_follows_their_latest_session_where_recency_predicts(server):
    o = onboard(server, "recency", interactions=drifting_csv())
    key = o["api_key"]
    r = server.request("POST", "/api/v1/train", {"model_type": "als", "hyperparameters": {"embedding_dim": 16}},
                       token=key, port="ml")
    done = wait_done(server, key, r.json()["job_id"])
    assert done["deployment_status"] == "deployed", {k: done.get(k) for k in ("deployment_reason", "lift", "recency", "final_metrics")}
    rec = done["recency"]
    assert rec["steered_ndcg@10"] > rec["ndcg@10"] and rec["recent_events_share"] == 0.5, rec
    models = server.request("GET", "/api/v1/models", token=key, port="ml").json()["models"]
    assert models[0]["metrics"]["recency"]["recent_events_share"] == 0.5
    # U0's history is two thirds cameras, their last session books: books lead.
    recs = recommend(server, key, {"user_id": "U0", "count": 10})["recommendations"]
    assert sum(x["item_id"] not in CAMERAS for x in recs) >= 7, recs


def test_purchases_stay_excluded_behind_a_long_history(server):
    # U0 bought P0 long ago, then viewed 700 times: still never recommended.
    items, shop = shop_csvs()
    rows = shop.decode().splitlines()
    rows.append("U0,P0,purchase,1600000000")
    rng = random.Random(5)
    for n in range(700):
        rows.append(f"U0,P{rng.randrange(1, 60)},view,{1700100000 + n}")
    o = onboard(server, "longhistory", interactions=("\n".join(rows) + "\n").encode())
    key = o["api_key"]
    wait_done(server, key, train(server, key).json()["job_id"])
    history = server.request("GET", "/api/v1/users/U0/interactions?limit=600", token=key).json()
    assert "P0" not in {e["item_id"] for e in history.get("interactions", []) if e["interaction_type"] == "purchase"}
    recs = recommend(server, key, {"user_id": "U0", "count": 50})["recommendations"]
    assert "P0" not in {x["item_id"] for x in recs}


def test_one_visitor_cannot_take_over_popular(server):
    o = onboard(server, "trend")
    key = o["api_key"]
    before = server.request("GET", "/api/v1/recommendations/popular?count=5", token=key).json()
    top = [x["item_id"] for x in before["recommendations"]]
    # The least popular item, bought by one visitor with the wall clock and
    # with a timestamp ahead of it, many times over (the upload is from 2023).
    for n in range(20):
        track(server, key, "hostile", "P29", "purchase")
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=20)  # accepted: < a day ahead
    track(server, key, "hostile", "P29", "purchase", ts=soon.strftime("%Y-%m-%dT%H:%M:%SZ"))
    after = server.request("GET", "/api/v1/recommendations/popular?count=5", token=key).json()
    assert [x["item_id"] for x in after["recommendations"]][0] == top[0]
    assert "P29" not in [x["item_id"] for x in after["recommendations"]][:3]


def test_the_tenants_interaction_weights_drive_trending(server):
    # The tenant values a 'wishlist' above a purchase: three wishlists move an item to the top.
    o = onboard(server, "weights", settings={"interaction_types": {"wishlist": {"weight": 100}}})
    key = o["api_key"]
    for n in range(3):
        track(server, key, f"fan{n}", "P29", "wishlist")
    after = server.request("GET", "/api/v1/recommendations/popular?count=3", token=key).json()
    assert after["recommendations"][0]["item_id"] == "P29", after


def withheld_shop(tmp_path, users=500):
    """A generated shop with each of `users` sampled users' last purchase
    withheld (every row of that user with that item): (items.csv, the
    upload, {user: withheld item})."""
    out = tmp_path / "rerank-shop"
    subprocess.run([BIN, "generate-shop", "--out", str(out), "--items", "2000", "--users", "2000",
                    "--interactions", "60000", "--seed", "5"], check=True, capture_output=True)
    with open(out / "interactions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    last = {}
    for r in rows:
        if r["interaction_type"] == "purchase" and r["timestamp"] >= last.get(r["user_id"], ("", ""))[0]:
            last[r["user_id"]] = (r["timestamp"], r["item_id"])
    test = dict(random.Random(9).sample(sorted((u, i) for u, (t, i) in last.items()), users))
    kept = [r for r in rows if test.get(r["user_id"]) != r["item_id"]]
    upload = io.StringIO()
    w = csv.DictWriter(upload, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(kept)
    return (out / "items.csv").read_bytes(), upload.getvalue().encode(), test


def served_lists(server, key, users, k=20):
    """{user: the item ids of their `k` recommendations}."""
    users = sorted(users)
    out = {}
    for n in range(0, len(users), 100):
        r = server.request("POST", "/api/v1/recommendations/batch", {"user_ids": users[n:n + 100], "count": k},
                           token=key)
        assert r.status == 200, r
        for u, res in zip(users[n:n + 100], r.json()["results"]):
            out[u] = [x["item_id"] for x in res["recommendations"]]
    return out


def category_lift(w):
    """What a share of 0.6 of the newest events in an item's category adds to
    its reranker score against none: the share enters as itself and as its
    log (floor 0.01)."""
    at = {name: j for j, name in enumerate(w["features"])}
    return sum(w["weight"][at[name]] * w["scale"][at[name]] * (x(0.6) - x(0.0))
               for name, x in (("recent_category_share", lambda s: s),
                               ("log_recent_category_share", lambda s: math.log(s + 0.01))))


def test_the_reranker_learns_the_shops_signals_and_serves_them(server, tmp_path):
    # The same shop twice, once with its categories and once without: the
    # job fits a reranker on its validation split. With the categories (the
    # last session's category predicts the purchase) it weighs the session's
    # category up; both weigh down what the user already had (viewed or
    # carted: serving shows those again, the withheld purchase is never one).
    items, upload, test = withheld_shop(tmp_path)
    rows = list(csv.DictReader(io.StringIO(items.decode())))
    bare = io.StringIO()
    w = csv.DictWriter(bare, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows({**r, "category": ""} for r in rows)
    lists = {}
    for name, catalog in (("with", items), ("without", bare.getvalue().encode())):
        o = server.onboard(f"rerank-{name}", scopes=SCOPES)
        key = o["api_key"]
        assert server.upload("/api/v1/upload/items", catalog, key).status == 200
        assert server.upload("/api/v1/upload/interactions", upload, key).status == 200
        r = server.request("POST", "/api/v1/train", {"model_type": "ease"}, token=key, port="ml")
        done = wait_done(server, key, r.json()["job_id"], timeout=180)
        assert done["status"] == "completed" and done["deployment_status"] == "deployed", done
        rerank = done["rerank"]
        assert rerank["kept"] and rerank["reranked_ndcg@10"] > rerank["ndcg@10"], rerank
        w = rerank["weights"]
        had = w["weight"][w["features"].index("had_item")] * w["scale"][w["features"].index("had_item")]
        assert had < -0.5, rerank
        if name == "with":
            assert category_lift(w) > 0.5, rerank
            models = server.request("GET", "/api/v1/models", token=key, port="ml").json()["models"]
            metrics = models[0]["metrics"]
            assert metrics["rerank"]["kept"], metrics
            # The lift and the gate judge what is served: the reranked figure.
            assert metrics["served_ndcg@10"] > metrics["ndcg@10"], metrics
            assert done["lift"]["ndcg@10"] == pytest.approx(
                metrics["served_ndcg@10"] / done["lift"]["popularity_ndcg@10"]), done["lift"]
        else:  # no categories: their features weigh nothing
            assert abs(category_lift(w)) < 1e-6, w
        lists[name] = served_lists(server, key, test)
    hits = {name: sum(test[u] in got[u] for u in test) / len(test) for name, got in lists.items()}
    assert hits["with"] >= hits["without"] + 0.015, hits
    # Asked not to rerank, the same shop gets the model alone.
    o = server.onboard("rerank-off", scopes=SCOPES)
    key = o["api_key"]
    assert server.upload("/api/v1/upload/items", items, key).status == 200
    assert server.upload("/api/v1/upload/interactions", upload, key).status == 200
    r = server.request("POST", "/api/v1/train", {"model_type": "ease", "rerank": False}, token=key, port="ml")
    done = wait_done(server, key, r.json()["job_id"], timeout=180)
    assert done["status"] == "completed" and "rerank" not in done, done
    got = served_lists(server, key, test)
    off = sum(test[u] in got[u] for u in test) / len(test)
    assert off <= hits["with"] - 0.03 and off <= hits["without"] + 0.01, (off, hits)
    # What each user already had (the upload's rows): the model alone shows
    # some of it, both reranked lists none.
    had = {u: set() for u in test}
    for r in csv.DictReader(io.StringIO(upload.decode())):
        if r["user_id"] in had:
            had[r["user_id"]].add(r["item_id"])
    shown_had = {name: sum(len(had[u] & set(got[u])) for u in test) / (20 * len(test))
                 for name, got in (*lists.items(), ("off", got))}
    assert shown_had["off"] > 0.05 and shown_had["with"] < 0.01 and shown_had["without"] < 0.01, shown_had


def test_scores_are_the_chance_of_the_next_purchase(server, tmp_path):
    """Scores read as the chance that the item is the user's next choice.
    Untrained, popularity's scores are item shares of the shop's activity;
    trained on a generated shop whose users buy several items each, the job
    calibrates on each validation user's next held-out purchase (not on all
    of them, as the split's precision@10 counts) in lists as served
    (reranked where a reranker is kept), and the served mean score@10 is
    that figure. (Against the withheld-last-purchase protocol:
    bench/quality_bench.py, docs/benchmarks.md.)"""
    out = tmp_path / "shop"
    subprocess.run([BIN, "generate-shop", "--out", str(out), "--users", "1500", "--items", "2000",
                    "--interactions", "60000", "--seed", "5"], check=True, capture_output=True)
    o = server.onboard("nextpurchase", scopes=SCOPES)
    key = o["api_key"]
    assert server.upload("/api/v1/upload/items", (out / "items.csv").read_bytes(), key).status == 200
    assert server.upload("/api/v1/upload/interactions", (out / "interactions.csv").read_bytes(), key).status == 200
    with open(out / "interactions.csv") as f:
        users = sorted({r["user_id"] for r in csv.DictReader(f)})
    untrained = recommend(server, key, {"user_id": users[0], "count": 10})["recommendations"]
    scores = [x["score"] for x in untrained]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] and scores[0] < 0.2, scores
    r = server.request("POST", "/api/v1/train", {"model_type": "als"}, token=key, port="ml")
    assert r.status == 202, r
    done = wait_done(server, key, r.json()["job_id"], timeout=180)
    assert done["status"] == "completed" and done["deployment_status"] == "deployed", done
    fm, cal = done["final_metrics"], done["score_calibration"]
    # The split's precision@10 is of the model's own order with only purchases
    # masked (viewed items take slots, as served); the next choice's, of the
    # lists as served: two different figures, both positive.
    assert 0 < fm["next_choice_precision@10"] and 0 < fm["precision@10"], fm
    assert fm["next_choice_precision@10"] != fm["precision@10"], fm
    assert cal["precision@10"] == fm["next_choice_precision@10"]
    assert cal["held_out"] == "one next choice per user"
    if done["rerank"]["kept"]:  # measured on the lists as served (seen items among the candidates)
        assert cal["reranker_gain"] > 1, cal
    shown, score = 0, 0.0
    for n in range(0, len(users), 100):
        res = server.request("POST", "/api/v1/recommendations/batch", {"user_ids": users[n:n + 100], "count": 10},
                             token=key).json()["results"]
        for a in res:
            recs = a["recommendations"][:10]
            shown += len(recs)
            score += sum(x["score"] for x in recs)
    assert shown >= 10 * 1400
    assert 0.8 < score / shown / fm["next_choice_precision@10"] < 1.25, (score / shown, fm, cal)
