"""A large shop end to end through the API (issue 14): upload, train, deploy,
serve.

The shop comes from `embedrec generate-shop` (by default 15M interactions,
500K users, 1M items, seed 14; generated once into bench/out/shops/ and
reused). One server on a fresh data directory: the catalog and the
interactions are uploaded through the gateway, then each model type asked
for (--models) is trained through `POST /api/v1/train` and deployed; the
server is restarted before each job so that its peak RSS (VmHWM) is that
job's. Then, on the last deployed model, wrk at 8 connections on
recommendations (users spread over the whole shop) and on similar items
(items spread over the catalog), after a warm-up.

The first request after a restart (catalog, popularity and model read
from storage) is timed --cold-rounds times; with --baseline-bin, each round
restarts that build too, interleaved, on the same data.

Usage: python3 bench/scale_bench.py [--interactions 15000000 --users 500000
       --items 1000000] [--models als,auto] [--duration 20] [--work DIR]
       [--cold-rounds 3] [--baseline-bin PATH]
(--work: keep the data directory there; run again with the same DIR, the
upload is skipped, and with --models '' only the serving is measured)
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from embedrec_server import BIN, ROOT, call, peak_rss_mb, start, tenant_key, upload_file, wait_job, wrk
from report import publish

SCOPES = ["data:write", "models:train", "models:read", "recommendations:read"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--interactions", type=int, default=15_000_000)
    ap.add_argument("--users", type=int, default=500_000)
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--models", default="als,auto")
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--work", default="")
    ap.add_argument("--cold-rounds", type=int, default=3)
    ap.add_argument("--baseline-bin", default="")
    args = ap.parse_args()

    shop = ROOT / "bench" / "out" / "shops" / f"shop_{args.interactions}"
    if not (shop / "interactions.csv").exists():
        t0 = time.monotonic()
        subprocess.run([BIN, "generate-shop", "--out", str(shop), "--interactions", str(args.interactions),
                        "--users", str(args.users), "--items", str(args.items), "--seed", "14"], check=True)
        print(f"generated the shop in {time.monotonic() - t0:.0f} s", file=sys.stderr)

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="scale-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {"EMBEDREC_TRAINING_THREADS": "2"}
    rows = []
    key_file = work / "key.txt"
    try:
        proc, ports = start(work, extra_env=env)
        gw, ml = ports["gateway"], ports["ml"]
        up = {}
        if key_file.exists():
            key = key_file.read_text().strip()
        else:
            _, key = tenant_key(gw, "large", SCOPES)
            for kind in ("items", "interactions"):
                t0 = time.monotonic()
                answer = upload_file(gw, f"/api/v1/upload/{kind}", key, shop / f"{kind}.csv")
                seconds = up[kind] = time.monotonic() - t0
                print(f"uploaded {kind} in {seconds:.1f} s: {json.dumps(answer)[:300]}", file=sys.stderr)
            up["rss_mb"] = peak_rss_mb(proc.pid)
            key_file.write_text(key)
        for model in filter(None, args.models.split(",")):
            proc.terminate()
            proc.wait()
            proc, ports = start(work, extra_env=env)
            gw, ml = ports["gateway"], ports["ml"]
            t0 = time.monotonic()
            job = call(ml, "POST", "/api/v1/train", {"model_type": model}, token=key)
            p = wait_job(ml, key, job, poll_s=1.0, deadline_s=4 * 3600)
            seconds = time.monotonic() - t0
            row = {"model": model, "status": p["status"], "seconds": seconds, "peak_rss_mb": peak_rss_mb(proc.pid),
                   "job": p}
            rows.append(row)
            (work / f"job_{model}.json").write_text(json.dumps(p, indent=1))  # the whole record, for a look
            print(json.dumps(row)[:2000], file=sys.stderr)
        # Serving on the last deployed model, after a restart: a first request, then wrk.
        proc.terminate()
        proc.wait()
        cold = {"ours": []}
        if args.baseline_bin:
            cold["baseline"] = []
        for _ in range(args.cold_rounds):
            for build in cold:
                proc, ports = start(work, extra_env=env, bin=args.baseline_bin if build == "baseline" else None)
                t0 = time.monotonic()
                call(ports["gateway"], "POST", "/api/v1/recommendations", {"user_id": "USER_000001", "count": 10},
                     token=key)
                cold[build].append((time.monotonic() - t0) * 1000)
                proc.terminate()
                proc.wait()
        print(f"first request after a restart, ms: {cold}", file=sys.stderr)
        proc, ports = start(work, extra_env=env)
        gw = ports["gateway"]
        # The tenant's first load (seconds on a large shop) ends before wrk's warm-up starts.
        call(gw, "POST", "/api/v1/recommendations", {"user_id": "USER_000001", "count": 10}, token=key)
        serve = {"first_request_ms": cold}
        for kind, n in (("recommend", args.users), ("similar", min(args.items, 999_999))):
            env_wrk = {"BENCH_KEY": key, "BENCH_N": str(n), "BENCH_KIND": kind, "BENCH_OUT": str(work / "wrk.json")}
            wrk(f"http://127.0.0.1:{gw}", args.connections, args.warmup, env_wrk)
            serve[kind] = wrk(f"http://127.0.0.1:{gw}", args.connections, args.duration, env_wrk)
            print(f"{kind}: {serve[kind]}", file=sys.stderr)
        serve["rss_mb"] = peak_rss_mb(proc.pid)
        proc.terminate()
        proc.wait()
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    lines = [f"`python3 bench/scale_bench.py --interactions {args.interactions} --users {args.users} "
             f"--items {args.items} --models {args.models}`", "",
             (f"upload: items {up['items']:.1f} s, interactions {up['interactions']:.1f} s "
              f"(server peak RSS {up['rss_mb']:.0f} MB)" if up else "upload: done earlier (--work)"), "",
             "| model asked | status | job s | peak RSS MB | chosen | epochs | hit_rate@10 | deployment | refit |",
             "|---|---|---:|---:|---|---:|---:|---|---|"]
    for r in rows:
        j = r["job"]
        hit = (j.get("final_metrics") or {}).get("hit_rate@10", "")
        lines.append(f"| {r['model']} | {r['status']} | {r['seconds']:.0f} | {r['peak_rss_mb']:.0f} | "
                     f"{j.get('chosen_model_type', j.get('model_type', ''))} | {j.get('epochs_run', '')} | {hit if hit == '' else round(hit, 4)} | "
                     f"{j.get('deployment_status', '')} | {j.get('refit', '')} |")
    cold_text = "; ".join(f"{build} " + ", ".join(f"{ms:,.0f}" for ms in v) for build, v in cold.items())
    lines += ["", f"first request after a restart (ms, rounds interleaved): {cold_text}", "",
              f"| target ({args.connections} connections, {args.duration} s) | req/s | p50 ms | p99 ms | non-2xx |",
              "|---|---:|---:|---:|---:|"]
    for kind in ("recommend", "similar"):
        s = serve[kind]
        lines.append(f"| {kind} | {s['rps']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['non2xx']} |")
    publish("scale", "\n".join(lines))
    (ROOT / "bench" / "out" / "scale.json").write_text(json.dumps({"upload": up, "jobs": rows, "serve": serve}))


if __name__ == "__main__":
    main()
