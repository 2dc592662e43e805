#!/usr/bin/env python3
"""Time to quality on Gowalla (issue 12): how long LightGCN takes to reach
recall@20 >= 0.18 on the authors' test split, with our recipe and a time
budget:

  embedrec train --train train.txt.gz --test test.txt.gz --format adjacency
                 --model lightgcn --time-budget SECONDS --eval-every N

No hyperparameters are given, so --time-budget applies our recipe (the
reference's dim, layers and scaled batch, with the sampled softmax over 4,096
negatives shared by each batch, L2 0.05 and lr 0.01). The curve is evaluated on the test split
every N epochs; the time to a recall is the training and evaluation time
spent up to the first evaluation that reaches it. The PyTorch reference
(lr 0.001) needs ~1,000 epochs for 0.1830 (the paper); at the 143-224 s per
epoch measured on this machine type (../shared/data/gowalla/README.md) that
is ~46 hours.

Usage: bench/time_to_quality.py [--budget 1800] [--eval-every 5] [--target 0.18]
"""
import argparse
import json
import subprocess

from embedrec_server import BIN, ROOT
from report import publish


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=1800)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--target", type=float, default=0.18)
    args = ap.parse_args()
    data = ROOT.parent / "shared/data/gowalla"
    out = subprocess.run([BIN, "train", "--train", str(data / "train.txt.gz"), "--test", str(data / "test.txt.gz"),
                          "--format", "adjacency", "--model", "lightgcn", "--time-budget", str(args.budget),
                          "--eval-every", str(args.eval_every), "--epochs", "1000", "--no-progress"],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    per_epoch, per_eval = r["seconds_per_epoch"], r["seconds_per_eval"]
    rows = ["Gowalla (LightGCN split, 29,858 users, 40,981 items): `embedrec train --model lightgcn "
            f"--time-budget {args.budget:.0f} --eval-every {args.eval_every}` (our recipe: loss "
            f"{r.get('loss')}, {r.get('softmax_negatives', 1)} negatives, L2 {r.get('reg')}, lr "
            f"{r.get('learning_rate')}, batch {r.get('batch_size')}); recall@20 / ndcg@20 on the authors' test split",
            "", "| epoch | minutes (training + evaluations) | recall@20 | ndcg@20 |", "|---:|---:|---:|---:|"]
    reached = None
    for n, c in enumerate(r["curve"], 1):
        minutes = (c["epoch"] * per_epoch + n * per_eval) / 60
        rec, ndcg = c["metrics"]["recall@20"], c["metrics"]["ndcg@20"]
        rows.append(f"| {c['epoch']} | {minutes:.1f} | {rec:.4f} | {ndcg:.4f} |")
        if reached is None and rec >= args.target:
            reached = (c["epoch"], minutes)
    rows += ["", f"{r['epochs']} epochs in {r['train_seconds'] / 60:.1f} min ({per_epoch:.1f} s/epoch, "
             f"{per_eval:.1f} s/evaluation), peak RSS {r['peak_rss_mb']:.0f} MB; best state kept: "
             f"recall@20 {r['recall@20']:.4f}, ndcg@20 {r['ndcg@20']:.4f}."]
    rows.append(f"recall@20 ≥ {args.target}: " + (f"after epoch {reached[0]}, {reached[1]:.1f} min" if reached
                                                  else "not reached within the budget"))
    publish("time_to_quality", "\n".join(rows))


if __name__ == "__main__":
    main()
