#!/usr/bin/env python3
"""A/B of two trainer builds (for speed work): runs `embedrec train` of build
A and build B in interleaved rounds on the same data and prints the median
seconds per epoch of each and their ratio. Interleaving cancels most of this
shared machine's drift, which moves single runs by ±15 %.

Usage: bench/train_ab.py --a OLD_BIN --b NEW_BIN [--data gowalla-shop|gowalla]
                         [--epochs 3] [--rounds 3]
Not part of `make bench`; a tool for comparing a change with its parent.
"""
import argparse
import json
import statistics
import subprocess
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = {"gowalla-shop": ("train.txt", "test.txt"), "gowalla": ("train.txt.gz", "test.txt.gz")}


def epoch_seconds(binary, data, epochs):
    train, test = FILES[data]
    cmd = [binary, "train", "--train", str(DATA / data / train), "--test", str(DATA / data / test),
           "--format", "adjacency", "--epochs", str(epochs), "--eval-every", "0", "--no-progress"]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    return out["seconds_per_epoch"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--data", default="gowalla-shop", choices=sorted(FILES))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    a, b = [], []
    for r in range(args.rounds):
        first, second = (args.a, args.b) if r % 2 == 0 else (args.b, args.a)
        t1 = epoch_seconds(first, args.data, args.epochs)
        t2 = epoch_seconds(second, args.data, args.epochs)
        (a if first == args.a else b).append(t1)
        (b if second == args.b else a).append(t2)
        print(f"round {r + 1}: A {a[-1]:.3f} s/epoch, B {b[-1]:.3f} s/epoch", flush=True)
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"median A {ma:.3f}, B {mb:.3f} s/epoch: B takes {100 * mb / ma:.0f} % of A's time")


if __name__ == "__main__":
    main()
