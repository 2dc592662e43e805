#!/usr/bin/env python3
"""Serving benchmark (issue 6): a generated shop (10,000 items, 5,000 users,
150,000 interactions) with a trained 64-dimension LightGCN model; wrk on
POST /api/v1/recommendations over all users, result cache off and on, beside
nginx serving a static JSON file of the same size as one answer, in the same
run; then 8 connections for latency (recommendations, the same model
without its reranker, ALS with recency steering, similar items).

Usage: bench/serving_bench.py [--duration 10] [--rounds 2] [--warmup 4]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from embedrec_server import BIN, ROOT, call, start, start_nginx, tenant_key, wrk
from report import publish

def tracking(port, key, rate, stop):
    """Tracks `rate` view events per second (new users, spread over the
    catalog) until `stop` is set; returns the thread. Counts what it sent."""
    sent = {"events": 0}

    def run():
        t0 = time.monotonic()
        i = 0
        while not stop.is_set():
            i += 1
            call(port, "POST", "/api/v1/interactions",
                 {"user_id": f"live-{i}", "item_id": "PROD_%06d" % (1 + (i * 7919) % 10000),
                  "interaction_type": "view"}, token=key)
            sent["events"] += 1
            wait = t0 + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)

    th = threading.Thread(target=run, daemon=True)
    th.sent = sent
    th.start()
    return th


def wrk_while_tracking(url, port, connections, duration, env, rate):
    stop = threading.Event()
    th = tracking(port, env["BENCH_KEY"], rate, stop)
    try:
        r = wrk(url, connections, duration, env)
    finally:
        stop.set()
        th.join()
    r["tracked_per_s"] = th.sent["events"] / duration
    return r


def wrk_static(url, connections, duration):
    import re
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p = {}
    for q in ("50", "99"):
        m = re.search(q + r"%\s+([\d.]+)(us|ms|s)\b", out)
        p[q] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return {"rps": rps, "p50_ms": p["50"], "p99_ms": p["99"], "non2xx": 0}


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=4)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrec-serving-bench-"))
    os.chmod(work, 0o755)  # nginx workers run as another user
    procs = []
    try:
        subprocess.run([BIN, "generate-shop", "--out", str(work / "shop"), "--items", "10000",
                        "--users", "5000", "--interactions", "150000"], check=True, capture_output=True)
        proc, ports = start(work)
        procs.append(proc)
        gw, ml = ports["gateway"], ports["ml"]
        tenants = {}
        shares = {}
        reranked = {}
        for mode, ttl in (("cache_off", 0), ("cache_on", 300), ("steered", 0), ("no_rerank", 0)):
            _, key = tenant_key(gw, mode.replace("_", "-"),
                                ["data:write", "models:train", "recommendations:read", "interactions:write"],
                                {"cache_ttl_seconds": ttl})
            for kind in ("items", "interactions"):
                call(gw, "POST", f"/api/v1/upload/{kind}", token=key,
                     raw=(work / "shop" / f"{kind}.csv").read_bytes(), ctype="text/csv")
            # "steered": ALS, whose validation on this shop chooses recency steering
            # (known users' newest events move every query: no kept-candidates walk).
            # "no_rerank": the cache_off tenant's model without its reranker (the
            # second stage's cost, side by side).
            body = ({"model_type": "als"} if mode == "steered" else
                    {"model_type": "lightgcn", "hyperparameters": {"epochs": args.epochs}})
            if mode == "no_rerank":
                body["rerank"] = False
            job = call(ml, "POST", "/api/v1/train", body, token=key)
            while (done := call(ml, "GET", job["progress_url"], token=key))["status"] not in ("completed", "failed"):
                time.sleep(0.2)
            tenants[mode] = key
            shares[mode] = done.get("recency", {}).get("recent_events_share")
            reranked[mode] = done.get("rerank", {}).get("kept", False)
        sample = json.dumps(call(gw, "POST", "/api/v1/recommendations",
                                 {"user_id": "USER_000001", "count": 10}, token=tenants["cache_off"]))
        www = work / "www"
        www.mkdir()
        (www / "rec.json").write_bytes(b"x" * len(sample))
        nginx, nport = start_nginx(work, www, "rec.json")
        procs.append(nginx)

        base = f"http://127.0.0.1:{gw}"
        out = str(work / "wrk.json")
        runs = [
            ("embedrec recommendations, cache off, 64 conn", 64,
             lambda c: wrk(base, c, args.duration, {"BENCH_KEY": tenants["cache_off"], "BENCH_N": "5000",
                                                    "BENCH_KIND": "user", "BENCH_OUT": out})),
            ("embedrec recommendations, cache off, 64 conn, while tracking 100 events/s", 64,
             lambda c: wrk_while_tracking(base, gw, c, args.duration,
                                          {"BENCH_KEY": tenants["cache_off"], "BENCH_N": "5000",
                                           "BENCH_KIND": "user", "BENCH_OUT": out}, 100)),
            ("embedrec recommendations, cache on, 64 conn", 64,
             lambda c: wrk(base, c, args.duration, {"BENCH_KEY": tenants["cache_on"], "BENCH_N": "5000",
                                                    "BENCH_KIND": "user", "BENCH_OUT": out})),
            ("nginx static file of the same size, 64 conn", 64,
             lambda c: wrk_static(f"http://127.0.0.1:{nport}/rec.json", c, args.duration)),
            ("embedrec recommendations, cache off, 8 conn", 8,
             lambda c: wrk(base, c, args.duration, {"BENCH_KEY": tenants["cache_off"], "BENCH_N": "5000",
                                                    "BENCH_KIND": "user", "BENCH_OUT": out})),
            ("embedrec recommendations, the same model without its reranker, cache off, 8 conn", 8,
             lambda c: wrk(base, c, args.duration, {"BENCH_KEY": tenants["no_rerank"], "BENCH_N": "5000",
                                                    "BENCH_KIND": "user", "BENCH_OUT": out})),
            ("embedrec recommendations, ALS with recency steering, cache off, 8 conn", 8,
             lambda c: wrk(base, c, args.duration, {"BENCH_KEY": tenants["steered"], "BENCH_N": "5000",
                                                    "BENCH_KIND": "user", "BENCH_OUT": out})),
            ("embedrec similar items, 8 conn", 8,
             lambda c: wrk(base, c, args.duration, {"BENCH_KEY": tenants["cache_off"], "BENCH_N": "10000",
                                                    "BENCH_KIND": "similar", "BENCH_OUT": out})),
            ("nginx static file of the same size, 8 conn", 8,
             lambda c: wrk_static(f"http://127.0.0.1:{nport}/rec.json", c, args.duration)),
        ]
        # Warm-up, not measured: each user's profile is read from the store
        # and each user's (item's) candidate list is computed on its first
        # request; the measured rounds see a running shop's steady state.
        for key, kind, n in ((tenants["cache_off"], "user", "5000"), (tenants["cache_on"], "user", "5000"),
                             (tenants["steered"], "user", "5000"), (tenants["no_rerank"], "user", "5000"),
                             (tenants["cache_off"], "similar", "10000")):
            wrk(base, 64, args.warmup, {"BENCH_KEY": key, "BENCH_N": n, "BENCH_KIND": kind, "BENCH_OUT": out})
        samples = {name: [] for name, _, _ in runs}
        for rnd in range(args.rounds):
            for name, conns, fn in runs:
                r = fn(conns)
                samples[name].append(r)
                print(f"round {rnd + 1} {name}: {r['rps']:.0f} req/s p50 {r['p50_ms']:.2f} "
                      f"p99 {r['p99_ms']:.2f} ms non-2xx {r['non2xx']}"
                      + (f" tracked {r['tracked_per_s']:.0f}/s" if "tracked_per_s" in r else ""), file=sys.stderr)
        nginx64 = median([r["rps"] for r in samples[runs[3][0]]])
        nginx8 = median([r["rps"] for r in samples[runs[-1][0]]])
        lines = [f"wrk -t2 --latency -d{args.duration}s after a {args.warmup} s warm-up per target, "
                 f"{args.rounds} interleaved rounds, medians; "
                 f"answer size {len(sample)} B; model: LightGCN 64 dims, {args.epochs} epochs, "
                 f"10,000 items, 5,000 users (recency steering share {shares['cache_off']}; the ALS "
                 f"tenant's {shares['steered']}: known users' newest events steer when > 0); "
                 f"reranker kept: LightGCN {reranked['cache_off']}, ALS {reranked['steered']}; "
                 "requests spread over all users (items)",
                 "",
                 "| target | req/s | p50 ms | p99 ms | non-2xx | vs nginx |",
                 "|---|---:|---:|---:|---:|---:|"]
        for i, (name, conns, _) in enumerate(runs):
            rs = samples[name]
            rps = median([r["rps"] for r in rs])
            ref = nginx64 if conns == 64 else nginx8
            if "tracked_per_s" in rs[0]:
                name += f" (achieved {median([r['tracked_per_s'] for r in rs]):.0f}/s)"
            lines.append(f"| {name} | {rps:.0f} | {median([r['p50_ms'] for r in rs]):.2f} | "
                         f"{median([r['p99_ms'] for r in rs]):.2f} | {sum(r['non2xx'] for r in rs)} | "
                         f"{100 * rps / ref:.0f}% |")
        publish("serving", "\n".join(lines))
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
