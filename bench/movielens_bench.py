#!/usr/bin/env python3
"""Model quality on MovieLens (issue 4): ratings >= 4 as positives, a seeded
per-user random 80/20 split, every model over the same small grid, all
points reported (the grid is fixed in advance; the best point per model is
marked, chosen on the held-out split, so it is an optimistic figure for
every model alike). The data's licence is non-commercial (see its README).

Usage: bench/movielens_bench.py
"""
import json
import os
import subprocess
from pathlib import Path

from report import publish

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("EMBEDREC_BIN", str(ROOT / "build" / "embedrec"))
RATINGS = ROOT.parent / "shared" / "data" / "movielens-small" / "ratings.csv"

GRID = [("popularity", ["--half-life-days", "1000000"], "no decay"),
        ("popularity", ["--half-life-days", "365"], "half-life 365 days")]
for alpha in ("10", "40"):
    for reg in ("0.1", "1"):
        GRID.append(("als", ["--alpha", alpha, "--reg", reg, "--epochs", "15"],
                     f"alpha {alpha}, λ {reg}, 15 iterations"))
for model in ("bpr_mf", "lightgcn"):
    for lr in ("0.001", "0.005"):
        for epochs in ("100", "200", "400"):
            GRID.append((model, ["--lr", lr, "--epochs", epochs], f"lr {lr}, {epochs} epochs"))


def main():
    rows = []
    for model, args, label in GRID:
        cmd = [BIN, "train", "--train", str(RATINGS), "--min-rating", "4", "--random-split",
               "--holdout", "0.2", "--seed", "2020", "--model", model, "--dim", "64",
               "--eval-every", "0", "--k", "10,20", "--no-progress", *args]
        out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        rows.append((model, label, out))
        print(model, label, f"recall@20={out['recall@20']:.4f} ndcg@20={out['ndcg@20']:.4f}",
              flush=True)
    best = {}
    for model, label, out in rows:
        if model not in best or out["ndcg@20"] > best[model][1]["ndcg@20"]:
            best[model] = (label, out)
    first = rows[0][2]
    lines = [f"{first['users']} users, {first['items']} items, {first['train_interactions']} "
             f"training and {first['test_interactions']} held-out positives.", "",
             "| model | settings | recall@20 | ndcg@20 | recall@10 | ndcg@10 |",
             "|---|---|---:|---:|---:|---:|"]
    for model, label, out in rows:
        mark = " **(best)**" if best[model][0] == label else ""
        lines.append(f"| {model} | {label}{mark} | {out['recall@20']:.4f} | {out['ndcg@20']:.4f} | "
                     f"{out['recall@10']:.4f} | {out['ndcg@10']:.4f} |")
    text = "\n".join(lines)
    publish("movielens", text)


if __name__ == "__main__":
    main()
