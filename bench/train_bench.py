#!/usr/bin/env python3
"""Trainer benchmark (issue 4): `embedrec train` on the LightGCN authors'
Gowalla split and its shop-sized slice, with the reference hyperparameters
(64 dims, 3 layers, lr 0.001, reg 1e-4, batch 2048, one negative, seed 2020).

The reference (the official PyTorch LightGCN code on this machine type) is
not run here: its figures are the ones recorded in the data sets' READMEs
(../shared/data/*/README.md), measured on the same 2-core machine type, and
are printed beside ours.

Usage: bench/train_bench.py [--shop-epochs 100] [--gowalla-epochs 3]
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from report import publish

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("EMBEDREC_BIN", str(ROOT / "build" / "embedrec"))
DATA = ROOT.parent / "shared" / "data"

# From ../shared/data/gowalla-shop/README.md: recall@20 / ndcg@20 by epoch.
SHOP_REF = {10: (0.1328, 0.0986), 20: (0.1517, 0.1133), 30: (0.1609, 0.1202),
            50: (0.1738, 0.1286), 70: (0.1825, 0.1357), 100: (0.1916, 0.1437)}
# From ../shared/data/gowalla/README.md.
GOWALLA_REF = {1: (0.0864, 0.0723), 2: (0.0961, 0.0803), 3: (0.1009, 0.0845)}


def train(data_dir, train_name, test_name, epochs, eval_every):
    cmd = [BIN, "train", "--train", str(data_dir / train_name), "--test", str(data_dir / test_name),
           "--format", "adjacency", "--epochs", str(epochs), "--eval-every", str(eval_every),
           "--dim", "64", "--layers", "3", "--lr", "0.001", "--reg", "1e-4", "--batch-size", "2048",
           "--negatives", "1", "--seed", "2020", "--k", "20", "--no-progress"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def table(name, out, ref, ref_epoch_s, ref_eval_s, ref_mem):
    lines = [f"### {name}", "",
             f"seconds per epoch: {out['seconds_per_epoch']:.3f} (reference {ref_epoch_s}); "
             f"full evaluation: {out['seconds_per_eval']:.2f} s (reference {ref_eval_s}); "
             f"peak RSS {out['peak_rss_mb']:.0f} MB (reference {ref_mem})", "",
             "| epoch | recall@20 | ndcg@20 | reference recall@20 | reference ndcg@20 |",
             "|---:|---:|---:|---:|---:|"]
    for c in out["curve"]:
        e = c["epoch"]
        r = ref.get(e)
        lines.append(f"| {e} | {c['metrics']['recall@20']:.4f} | {c['metrics']['ndcg@20']:.4f} | "
                     f"{r[0] if r else ''} | {r[1] if r else ''} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shop-epochs", type=int, default=100)
    ap.add_argument("--gowalla-epochs", type=int, default=3)
    args = ap.parse_args()
    parts = []
    if args.shop_epochs > 0:
        out = train(DATA / "gowalla-shop", "train.txt", "test.txt", args.shop_epochs, 10)
        print(json.dumps({k: v for k, v in out.items() if k != "curve"}), file=sys.stderr)
        parts.append(table("gowalla-shop (5,000 users, 9,972 items, 118,418 training pairs)", out,
                           SHOP_REF, "median 4.18 s", "1.7–2.6 s", "772 MB"))
    if args.gowalla_epochs > 0:
        out = train(DATA / "gowalla", "train.txt.gz", "test.txt.gz", args.gowalla_epochs, 1)
        print(json.dumps({k: v for k, v in out.items() if k != "curve"}), file=sys.stderr)
        parts.append(table("Gowalla (29,858 users, 40,981 items, 810,128 training pairs)", out,
                           GOWALLA_REF, "143–224 s, median 166 s", "55–110 s", "1.3–7.5 GB"))
    text = "\n\n".join(parts)
    publish("train", text)


if __name__ == "__main__":
    main()
