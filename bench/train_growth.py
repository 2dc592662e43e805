#!/usr/bin/env python3
"""Training growth (issue 14): how the trainer's time per epoch grows with
the data. Shops from `embedrec generate-shop`, scaled 10x per step (users,
items and interactions together: 150K interactions over 5K users and 10K
items, then 1.5M over 50K and 100K, then 15M over 500K and 1M); each model
type trained with `embedrec train` on 2 threads, 20 % of each user's items
held out and ranked against the whole catalog at the end. The aim: at most
12x the time per 10x the data. The training pairs an epoch iterates do not
grow exactly 10x with the generated events (repeats fold into a pair), so
each step also reports the pairs' growth and the time per pair's: at most
1.2x per 10x of pairs is the same aim.

Shops are generated once into bench/out/shops/ and reused.

Usage: bench/train_growth.py [--steps 2] [--models lightgcn,als] [--epochs 2]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from report import publish

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("EMBEDREC_BIN", str(ROOT / "build" / "embedrec"))
SHOPS = ROOT / "bench" / "out" / "shops"
BASE = (150_000, 5_000, 10_000)  # interactions, users, items
ITEM_ITEM_MAX = 30_000           # ml::kMaxItemItemItems


def shop(scale):
    interactions, users, items = (x * scale for x in BASE)
    out = SHOPS / f"shop_{interactions}"
    if not (out / "interactions.csv").exists():
        t0 = time.monotonic()
        subprocess.run([BIN, "generate-shop", "--out", str(out), "--interactions", str(interactions),
                        "--users", str(users), "--items", str(items), "--seed", "14"],
                       check=True, capture_output=True)
        print(f"generated {out.name} in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return out, interactions, users, items


def train(path, model, epochs):
    cmd = [BIN, "train", "--train", str(path / "interactions.csv"), "--model", model,
           "--epochs", str(epochs), "--eval-every", "0", "--holdout", "0.2", "--threads", "2",
           "--k", "20", "--eval-users", "20000", "--no-progress"]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": r.stderr.strip()[-300:]}
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["wall_seconds"] = time.monotonic() - t0
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2, help="1: 150K; 2: also 1.5M; 3: also 15M")
    ap.add_argument("--models", default="lightgcn,bpr_mf,als,ease,item_knn,popularity")
    ap.add_argument("--epochs", type=int, default=2, help="epochs of the iterative models")
    args = ap.parse_args()
    rows, per_model = [], {}
    for step in range(args.steps):
        path, n, users, items = shop(10 ** step)
        for model in args.models.split(","):
            if model in ("ease", "item_knn") and items > ITEM_ITEM_MAX:
                rows.append(f"| {n:,} | {users:,} | {items:,} | {model} | — | — | — | — | — | — | beyond {ITEM_ITEM_MAX:,} items |")
                continue
            epochs = 1 if model in ("ease", "item_knn", "popularity") else args.epochs
            r = train(path, model, epochs)
            if "error" in r:
                rows.append(f"| {n:,} | {users:,} | {items:,} | {model} | — | — | — | — | — | — | {r['error']} |")
                continue
            spe = r["seconds_per_epoch"]
            pairs = r.get("train_interactions", 0)
            growth = per_pair = ""
            if per_model.get(model, (0, 0))[0] > 0 and spe > 0:
                prev_spe, prev_pairs = per_model[model]
                growth = f"{spe / prev_spe:.1f}x"
                if pairs and prev_pairs:
                    per_pair = f"{pairs / prev_pairs:.2f}x pairs, {(spe / pairs) / (prev_spe / prev_pairs):.2f}x per pair"
            per_model[model] = (spe, pairs)
            rows.append(f"| {n:,} | {users:,} | {items:,} | {model} | {pairs:,} | {spe:.2f} | {growth} | {per_pair} | "
                        f"{r['seconds_per_eval'] or 0:.1f} | {r['peak_rss_mb']:.0f} | "
                        f"hit@20 {r.get('hit_rate@20', r.get('recall@20', 0)):.4f} after {r['epochs']} epochs |")
            print(rows[-1], file=sys.stderr)
    text = ("`embedrec train --threads 2 --holdout 0.2 --eval-every 0 --eval-users 20000`, "
            f"{args.epochs} epochs for the iterative models; growth: s/epoch against the step before "
            "(10x the data; aim ≤ 12x); the training pairs' growth and the time per pair's (aim ≤ 1.2x per 10x)\n\n"
            "| interactions | users | items | model | training pairs | s/epoch | growth | per pair | s/eval | peak RSS MB | quality |\n"
            "|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---|\n" + "\n".join(rows))
    publish("train_growth", text)


if __name__ == "__main__":
    main()
