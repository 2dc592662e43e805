"""Two builds side by side on one kept data directory (issue 14): each round
restarts each build in turn, times its first request, then runs wrk at 8
connections on recommendations (users spread over --users) and similar items
(items over --items) after a warm-up. For A/B comparisons of serving
changes on a large shop: make the directory with
`bench/scale_bench.py --work DIR` (and a deployed model).

Usage: python3 bench/serving_ab.py --work DIR --bins BEFORE,AFTER
       [--rounds 3] [--kinds recommend,similar] [--warmup 5] [--duration 15]
"""
import argparse
import json
import time
from pathlib import Path

from embedrec_server import call, start, wrk


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--bins", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kinds", default="recommend,similar")
    ap.add_argument("--users", type=int, default=500_000)
    ap.add_argument("--items", type=int, default=999_999)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--duration", type=int, default=15)
    args = ap.parse_args()
    work = Path(args.work)
    key = (work / "key.txt").read_text().strip()
    kinds = args.kinds.split(",")
    for r in range(args.rounds):
        for b in args.bins.split(","):
            proc, ports = start(work, extra_env={"EMBEDREC_TRAINING_THREADS": "2"}, bin=b)
            try:
                gw = ports["gateway"]
                t0 = time.monotonic()
                call(gw, "POST", "/api/v1/recommendations", {"user_id": "USER_000001", "count": 10}, token=key)
                out = {"round": r + 1, "bin": b, "first_ms": round((time.monotonic() - t0) * 1000)}
                for kind, n in (("recommend", args.users), ("similar", args.items)):
                    if kind not in kinds:
                        continue
                    env = {"BENCH_KEY": key, "BENCH_N": str(n), "BENCH_KIND": kind,
                           "BENCH_OUT": str(work / "wrk.json")}
                    wrk(f"http://127.0.0.1:{gw}", 8, args.warmup, env)
                    s = wrk(f"http://127.0.0.1:{gw}", 8, args.duration, env)
                    out[kind] = {k: round(s[k], 2) for k in ("rps", "p50_ms", "p99_ms")}
                print(json.dumps(out), flush=True)
            finally:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
