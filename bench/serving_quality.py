#!/usr/bin/env python3
"""Quality of the served recommendations (issue 6), through the HTTP API.

For a generated shop and for MovieLens (small): each user's latest 20 % of
distinct items are held out; the rest is uploaded to two tenants, one that
trains LightGCN (POST /api/v1/train, defaults but the epochs given) and one
left without a model (served by popularity, the baseline). Every test user
is then asked for 10 recommendations (POST /api/v1/recommendations/batch);
hit rate@10 = share of users with a held-out item among them, recall@10 =
mean share of a user's held-out items found.

Usage: bench/serving_quality.py [--epochs 100]
"""
import argparse
import atexit
import csv
import io
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from embedrec_server import BIN, ROOT, call, start, tenant_key
from report import publish


def split(interactions_csv, fraction=0.2):
    rows = list(csv.DictReader(io.StringIO(interactions_csv.read_text())))
    by_user = defaultdict(list)
    for r in rows:
        by_user[r["user_id"]].append(r)
    train_rows, test = [], {}
    for user, rs in by_user.items():
        rs.sort(key=lambda r: r["timestamp"])
        order = []
        for r in rs:  # distinct items in order of first appearance... latest last
            if r["item_id"] in order:
                order.remove(r["item_id"])
            order.append(r["item_id"])
        n_test = int(len(order) * fraction)
        held = set(order[len(order) - n_test:]) if n_test > 0 and len(order) >= 5 else set()
        if held:
            test[user] = held
        train_rows += [r for r in rs if r["item_id"] not in held]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(train_rows)
    return out.getvalue().encode(), test


def evaluate(gw, key, test):
    users = sorted(test)
    hits, recall = 0, 0.0
    for i in range(0, len(users), 100):
        chunk = users[i:i + 100]
        res = call(gw, "POST", "/api/v1/recommendations/batch", {"user_ids": chunk, "count": 10},
                   token=key)["results"]
        for user, r in zip(chunk, res):
            got = {x["item_id"] for x in r["recommendations"]}
            found = len(got & test[user])
            hits += found > 0
            recall += found / len(test[user])
    return hits / len(users), recall / len(users), res[0]["metadata"]["algorithm"]


def run(name, items_csv, interactions_csv, epochs, work):
    train_csv, test = split(interactions_csv)
    proc, ports = start(work, f"data-{name}")
    try:
        gw, ml = ports["gateway"], ports["ml"]
        keys = {}
        for slug in ("model", "baseline"):
            _, keys[slug] = tenant_key(gw, slug, ["data:write", "models:train", "recommendations:read"])
            call(gw, "POST", "/api/v1/upload/items", token=keys[slug], raw=items_csv.read_bytes(),
                 ctype="text/csv")
            call(gw, "POST", "/api/v1/upload/interactions", token=keys[slug], raw=train_csv,
                 ctype="text/csv")
        job = call(ml, "POST", "/api/v1/train", {"model_type": "lightgcn", "hyperparameters": {"epochs": epochs}},
                   token=keys["model"])
        while True:
            p = call(ml, "GET", job["progress_url"], token=keys["model"])
            if p["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.2)
        if p["status"] != "completed":
            sys.exit(f"{name}: training {p['status']}: {p.get('error')}")
        rows = []
        for slug in ("model", "baseline"):
            hr, rc, algo = evaluate(gw, keys[slug], test)
            rows.append(f"| {name} | {algo} | {len(test)} | {hr:.4f} | {rc:.4f} |")
        return rows
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrec-serving-quality-"))
    atexit.register(shutil.rmtree, work, True)  # the shops and servers' data
    subprocess.run([BIN, "generate-shop", "--out", str(work / "shop"), "--items", "10000", "--users",
                    "5000", "--interactions", "150000"], check=True, capture_output=True)
    subprocess.run([BIN, "convert-movielens", "--in", str(ROOT.parent / "shared/data/movielens-small"),
                    "--out", str(work / "ml")], check=True, capture_output=True)
    rows = ["Each user's latest 20 % of distinct items held out (users with ≥ 5 items); "
            f"LightGCN through POST /api/v1/train (defaults, {args.epochs} epochs) vs the same tenant "
            "data without a model (popularity); 10 recommendations per user through "
            "POST /api/v1/recommendations/batch",
            "", "| data | algorithm served | test users | hit rate@10 | recall@10 |", "|---|---|---:|---:|---:|"]
    rows += run("generated shop", work / "shop" / "items.csv", work / "shop" / "interactions.csv",
                args.epochs, work)
    rows += run("MovieLens small", work / "ml" / "items.csv", work / "ml" / "interactions.csv",
                args.epochs, work)
    publish("serving_quality", "\n".join(rows))


if __name__ == "__main__":
    main()
