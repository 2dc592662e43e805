#!/usr/bin/env python3
"""What a training job takes from request handling on a saturated server.

The soak's shop (10,000 items, 5,000 users, 150,000 interactions) with a
LightGCN model and the soak's 50K-row upload; then the soak's mix
(bench/recommend.lua, BENCH_KIND=mix) at 16 connections, closed loop, in
5-s slices: four without a job, every slice while a 20-epoch LightGCN job
trains, four after. Per slice the server's CPU by class of thread (the
job's: SCHED_IDLE; serving: normal priority). Each binary (EMBEDREC_BIN,
and --before, an older build) in interleaved rounds, each on its own
server.

Usage: bench/training_under_load.py [--before PATH] [--rounds 2]
"""
import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import embedrec_server
from embedrec_server import call, start, tenant_key, upload_file, wrk
from soak import thread_cpu

JOB = {"model_type": "lightgcn", "hyperparameters": {"epochs": 20}}


def wait_job(ml, key, job, each=None):
    while call(ml, "GET", job["progress_url"], token=key)["status"] not in ("completed", "failed", "cancelled"):
        each() if each else time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="", help="an older build, measured in alternation")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    bins = [embedrec_server.BIN] + ([args.before] if args.before else [])
    work = Path(tempfile.mkdtemp(prefix="embedrec-trainload-"))
    servers = []
    try:
        for name, n, seed in (("shop", 150000, []), ("more", 50000, ["--seed", "7"])):  # as bench/soak.py
            subprocess.run([bins[0], "generate-shop", "--out", str(work / name), "--items", "10000", "--users", "5000",
                            "--interactions", str(n), *seed], check=True, capture_output=True)
        for i, b in enumerate(bins):
            proc, ports = start(work, name=f"s{i}", bin=b)
            gw, ml, pipe = ports["gateway"], ports["ml"], ports["pipeline"]
            _, key = tenant_key(gw, "load", ["data:write", "models:train", "recommendations:read",
                                             "interactions:write"], {"cache_ttl_seconds": 0})
            for kind in ("items", "interactions"):
                upload_file(pipe, f"/api/v1/upload/{kind}", key, work / "shop" / f"{kind}.csv")
            wait_job(ml, key, call(ml, "POST", "/api/v1/train", JOB, token=key))
            upload_file(pipe, "/api/v1/upload/interactions", key, work / "more" / "interactions.csv")
            servers.append((b, proc, gw, ml, key))
        env = {"BENCH_KIND": "mix", "BENCH_N": "5000", "BENCH_ITEMS": "10000", "BENCH_VISITORS": "0",
               "BENCH_OUT": str(work / "w.json")}

        def slice_(gw, key, proc):
            a = thread_cpu(proc.pid)
            r = wrk(f"http://127.0.0.1:{gw}", 16, 5, {**env, "BENCH_KEY": key})
            z = thread_cpu(proc.pid)
            return {"rps": r["rps"], "job_cpu_s": z["idle"] - a["idle"], "serving_cpu_s": z["normal"] - a["normal"]}

        rows = []
        for rnd in range(args.rounds):
            for b, proc, gw, ml, key in servers:
                before = [slice_(gw, key, proc) for _ in range(4)]
                job = call(ml, "POST", "/api/v1/train", JOB, token=key)
                t0, during = time.monotonic(), []
                wait_job(ml, key, job, lambda: during.append(slice_(gw, key, proc)))
                job_s = time.monotonic() - t0
                after = [slice_(gw, key, proc) for _ in range(4)]
                med = lambda xs, k: statistics.median(x[k] for x in xs) if xs else float("nan")
                row = {"bin": b, "round": rnd, "rps_before": med(before, "rps"), "rps_during": med(during, "rps"),
                       "rps_after": med(after, "rps"), "job_seconds": job_s,
                       "job_cpu_s_per_slice": med(during, "job_cpu_s"),
                       "serving_cpu_s_per_slice_before": med(before, "serving_cpu_s"),
                       "serving_cpu_s_per_slice_during": med(during, "serving_cpu_s")}
                rows.append(row)
                print(json.dumps(row), flush=True)
        print("\n| build | round | req/s before | during the job | during / before | job s | job CPU-s per 5-s slice |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['bin']} | {r['round']} | {r['rps_before']:,.0f} | {r['rps_during']:,.0f} | "
                  f"{r['rps_during'] / r['rps_before']:.2f} | {r['job_seconds']:.0f} | {r['job_cpu_s_per_slice']:.2f} |")
    finally:
        for s in servers:
            s[1].kill()
            s[1].wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
