"""Issue 16's simulation: a generated shop and simulated shoppers whose clicks
follow a known ground truth — the generator's own category mix of each user
(truth.csv's category_share: a shopper clicks a shown item with 0.1 × their
share of its category) — not anything the platform can see. EASE and
popularity serve the arms (under this truth EASE's answers hold 1.43 of
category share per 10 items against popularity's 0.92, measured on 300
users of this shop; under the generator's item-level purchase propensities
it is also ahead, 0.0301 against 0.0274). The platform's own statistics,
checked as the clicks arrive, must roll the truly better one out step by
step to everybody, and roll the worse one back as a challenger.

"Truly better" is judged by the truth on the lists each arm served: the
expected clicks of a list are the sum of its items' click chances, which is
the arm's click-through rate the platform estimates from the clicks drawn.
Popularity is the tenant's trending list, and the shoppers' clicks of the
first experiment (mostly on EASE's items) feed it, so as a challenger
afterwards it is not the same list as at the start. With other shopper
seeds it was promoted in 2 of 12 runs (observed 0.155-0.159 against EASE's
0.135-0.139, truth not recorded) — the rollout then followed the first
decision's sign, now it asks all the figures at each step — and in 10 runs
with the truth recorded it was truly worse every time (0.097-0.115 against
0.149-0.159) and rolled back. Where the truth says it has become better,
promoting it is the right decision."""
import csv
import random
import subprocess

from conftest import ADMIN_TOKEN, BIN, wait_for
from test_training import wait_done

SCOPES = ["data:write", "models:train", "models:read", "recommendations:read", "interactions:write"]


def generated_shop(tmp_path):
    """The shop's files, and each user's share of each category (the truth)."""
    out = tmp_path / "shop"
    subprocess.run([BIN, "generate-shop", "--out", str(out), "--users", "800", "--items", "1500",
                    "--interactions", "30000", "--truth", "--seed", "11"], check=True, capture_output=True)
    with open(out / "items.csv") as f:
        category = {row["item_id"]: row["category"] for row in csv.DictReader(f)}
    share = {}
    with open(out / "truth.csv") as f:
        for row in csv.DictReader(f):
            share.setdefault(row["user_id"], {})[category[row["item_id"]]] = float(row["category_share"])
    return out, share, category


def train(server, key, model_type, **fields):
    r = server.request("POST", "/api/v1/train", {"model_type": model_type, **fields}, token=key, port="ml")
    assert r.status == 202, r
    done = wait_done(server, key, r.json()["job_id"], timeout=120)
    assert done["status"] == "completed", done
    return done


def shoppers(server, key, truth, rng, n, expected):
    """`n` visits of shop users: each is shown 10 recommendations and clicks
    each item with 0.1 × the user's true share of the item's category.
    `expected[arm]` sums each list's expected clicks and counts the lists."""
    share, category = truth
    users = list(share)
    events = []
    for _ in range(n):
        user = rng.choice(users)
        r = server.request("POST", "/api/v1/recommendations", {"user_id": user, "count": 10}, token=key)
        assert r.status == 200, r
        a = r.json()
        chances = [0.1 * share[user].get(category[item["item_id"]], 0.0) for item in a["recommendations"]]
        arm = expected.setdefault(a["metadata"]["arm"] or "none", [0.0, 0])
        arm[0] += sum(chances)
        arm[1] += 1
        for item, chance in zip(a["recommendations"], chances):
            if rng.random() < chance:
                events.append({"user_id": user, "item_id": item["item_id"], "interaction_type": "view",
                               "recommendation_id": a["metadata"]["recommendation_id"]})
    for start in range(0, len(events), 500):
        r = server.request("POST", "/api/v1/interactions/batch", {"events": events[start:start + 500]}, token=key)
        assert r.status in (200, 207), r


def run(server, key, truth, exp_id, seed):
    """The experiment once decided, and each arm's true click-through rate
    over the lists it served meanwhile."""
    rng = random.Random(seed)
    expected = {}

    def step():
        shoppers(server, key, truth, rng, 80, expected)
        r = server.request("GET", f"/api/v1/experiments/{exp_id}", token=key, port="ml")
        assert r.status == 200, r
        e = r.json()
        return e if e["status"] != "running" else None
    decided = wait_for(step, timeout=240, what="the experiment's decision")
    return decided, {arm: clicks / lists for arm, (clicks, lists) in expected.items()}


def test_the_truly_better_model_is_rolled_out_and_a_worse_one_rolled_back(make_server, tmp_path):
    shop, share, category = generated_shop(tmp_path)
    truth = (share, category)
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_EXPERIMENT_CHECK_SECONDS": "1",
                              "EMBEDREC_RETRAIN_CHECK_SECONDS": "0"})
    o = server.onboard("simulated", scopes=SCOPES)
    key = o["api_key"]
    assert server.upload("/api/v1/upload/items", (shop / "items.csv").read_bytes(), key).status == 200
    assert server.upload("/api/v1/upload/interactions", (shop / "interactions.csv").read_bytes(), key).status == 200
    popularity = train(server, key, "popularity")
    assert popularity["deployment_status"] == "deployed"
    ease = train(server, key, "ease", auto_deploy=False)
    assert ease["deployment_status"] == "standby"

    # (a) EASE, truly better for these shoppers, against the deployed popularity.
    r = server.request("POST", "/api/v1/experiments",
                       {"name": "ease vs popularity", "challenger": ease["model_version"], "traffic_share": 0.2,
                        "min_sample": 100, "rollout": [0.5, 1]}, token=key, port="ml")
    assert r.status == 201, r
    won, true_ctr = run(server, key, truth, r.json()["experiment_id"], seed=1)
    assert true_ctr["challenger"] > true_ctr["control"], true_ctr
    assert won["status"] == "promoted" and won["decision"]["outcome"] == "challenger_won", (won, true_ctr)
    assert [h["traffic_share"] for h in won["history"] if h["event"] == "rollout_step"] == [0.5]
    arms = won["statistics"]["arms"]
    assert arms["challenger"]["value"] > arms["control"]["value"]
    assert won["p_value"] <= 0.05
    models = server.request("GET", "/api/v1/models", token=key, port="ml").json()
    assert models["serving_version"] == ease["model_version"]

    # (b) Popularity back as the challenger of the deployed EASE: rolled back
    # where it is truly worse (nearly always), rolled out where it is better.
    r = server.request("POST", "/api/v1/experiments",
                       {"name": "popularity again", "challenger": popularity["model_version"], "traffic_share": 0.3,
                        "min_sample": 100}, token=key, port="ml")
    assert r.status == 201, r
    decided, true_ctr = run(server, key, truth, r.json()["experiment_id"], seed=2)
    models = server.request("GET", "/api/v1/models", token=key, port="ml").json()
    if true_ctr["challenger"] < true_ctr["control"]:
        assert decided["status"] == "rolled_back" and decided["decision"]["outcome"] == "challenger_lost", \
            (decided, true_ctr)
        assert models["serving_version"] == ease["model_version"]
    else:
        assert decided["status"] == "promoted" and decided["decision"]["outcome"] == "challenger_won", \
            (decided, true_ctr)
        assert models["serving_version"] == popularity["model_version"]
