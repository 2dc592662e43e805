#!/usr/bin/env python3
"""Tenant density (issue 14): many tenants of power-law sizes on one node.

Build (once, cached in bench/out/density_<N>/): N tenants, tenant k of rank k
holding max(2,000, 150,000/(k+1)) interactions over proportionally many users
and items (the largest Sarah-sized: 10K items, 150K interactions), each with
an ALS model trained and deployed through the API.

Measure, for each memory budget given (default: none, and 64 MiB), on a
restart of the server over that data: time to listen and to answer /readyz,
resident memory after start-up, the first (cold) recommendation of a sample
of tenants, then a request mix over the tenants with Zipf-distributed
popularity (s = 1.1; 8 client threads): warm latency percentiles, resident
memory at the end, and the models' residency from /metrics. Then wrk at 8
connections over another Zipf draw of (tenant, user) requests, after one
request to each tenant it holds (warm p99 from a load generator that spends
little CPU per request, unlike the Python clients), and what serving holds
against the budget (models, catalogs, popularity and profiles, the log's
recent answers; /metrics).

Usage: bench/density_bench.py [--tenants 1000] [--budgets none,64MiB] [--requests 4000]
"""
import argparse
import bisect
import json
import random
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from embedrec_server import BIN, call, rss_mb, start, tenant_key, wait_job, wrk
from report import publish

OUT = Path(__file__).resolve().parent / "out"
SCOPES = ["data:write", "models:train", "models:read", "recommendations:read"]


def sizes(k):
    n = max(2000, 150_000 // (k + 1))
    items = max(200, n // 15)
    users = max(100, n // 30)
    return n, users, items




def build(work, n_tenants):
    done = work / "tenants.json"
    if done.exists():
        return json.loads(done.read_text())
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shops = work / "shops"
    proc, ports = start(work, extra_env={"EMBEDREC_TRAINING_THREADS": "2"})
    gw, ml = ports["gateway"], ports["ml"]
    tenants = []
    t0 = time.monotonic()
    try:
        for k in range(n_tenants):
            n, users, items = sizes(k)
            shop = shops / f"{n}"
            if not (shop / "interactions.csv").exists():
                subprocess.run([BIN, "generate-shop", "--out", str(shop), "--interactions", str(n),
                                "--users", str(users), "--items", str(items), "--seed", "14"],
                               check=True, capture_output=True)
            t, key = tenant_key(gw, f"shop{k}", SCOPES)
            for kind in ("items", "interactions"):
                call(gw, "POST", f"/api/v1/upload/{kind}", token=key,
                     raw=(shop / f"{kind}.csv").read_bytes(), ctype="text/csv")
            job = call(ml, "POST", "/api/v1/train", {"model_type": "als"}, token=key)
            p = wait_job(ml, key, job, poll_s=0.1)
            if p["status"] != "completed":
                sys.exit(f"tenant {k}: training {p['status']}: {p.get('error')}")
            users_csv = (shop / "interactions.csv").read_text().splitlines()[1:200]
            tenants.append({"key": key, "interactions": n,
                            "users": sorted({line.split(",")[0] for line in users_csv})})
            if k % 50 == 0:
                print(f"built {k + 1}/{n_tenants} tenants ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait()
    done.write_text(json.dumps(tenants))
    return tenants


def metrics(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(("embedrec_model", "embedrec_serving", "embedrec_catalogs", "embedrec_activity",
                            "embedrec_tenant", "embedrec_recommendation_log")) and " " in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def recommend(port, t, user):
    t0 = time.perf_counter()
    call(port, "POST", "/api/v1/recommendations", {"user_id": user, "count": 10}, token=t["key"])
    return (time.perf_counter() - t0) * 1000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def zipf_draws(tenants, n, seed):
    """n (tenant, user) pairs, tenants by Zipf popularity (s = 1.1)."""
    cum = [0.0]
    for k in range(len(tenants)):
        cum.append(cum[-1] + 1 / (k + 1) ** 1.1)
    r = random.Random(seed)
    out = []
    for _ in range(n):
        t = tenants[bisect.bisect_right(cum, r.random() * cum[-1]) - 1]
        out.append((t, r.choice(t["users"])))
    return out


def wrk_mix(work, gw, tenants, seconds):
    """wrk at 8 connections over a Zipf draw of requests, each tenant in it
    asked once first; its summary (p50_ms, p99_ms, rps, non2xx)."""
    draws = zipf_draws(tenants, 20000, seed=11)
    for t in {id(t): t for t, _ in draws}.values():
        recommend(gw, t, t["users"][0])
    listing = work / "wrk_requests.txt"
    listing.write_text("".join(f"{t['key']} {u}\n" for t, u in draws))
    return wrk(f"http://127.0.0.1:{gw}", 8, seconds,
               {"BENCH_REQUESTS": str(listing), "BENCH_OUT": str(work / "wrk.json")})


def measure(work, tenants, budget, n_requests, idle_seconds=0, threads=8, cold_sample=20, wrk_seconds=0):
    env = {} if budget == "none" else {"EMBEDREC_MEMORY_BUDGET": budget}
    if idle_seconds:
        env["EMBEDREC_TENANT_IDLE_SECONDS"] = str(idle_seconds)
    t0 = time.monotonic()
    proc, ports = start(work, extra_env=env)
    listen_s = time.monotonic() - t0
    gw = ports["gateway"]
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{gw}/readyz").read()
            break
        except OSError:
            time.sleep(0.01)
    ready_s = time.monotonic() - t0
    try:
        start_rss = rss_mb(proc.pid)
        rng = random.Random(7)
        # Cold: the first request of a sample of tenants (the largest ones and random others).
        sample = list(range(min(5, len(tenants)))) + rng.sample(range(len(tenants)), min(cold_sample, len(tenants)))
        cold = []
        for k in dict.fromkeys(sample):
            cold.append(recommend(gw, tenants[k], tenants[k]["users"][0]))
        # The mix: tenants by Zipf popularity, 8 threads.
        weights = [1 / (k + 1) ** 1.1 for k in range(len(tenants))]
        cum = [0.0]
        for w in weights:
            cum.append(cum[-1] + w)
        lat, lock = [], threading.Lock()

        def client(seed, n):
            r = random.Random(seed)
            mine = []
            for _ in range(n):
                k = bisect.bisect_right(cum, r.random() * cum[-1]) - 1
                t = tenants[k]
                mine.append(recommend(gw, t, r.choice(t["users"])))
            with lock:
                lat.extend(mine)

        t1 = time.monotonic()
        ths = [threading.Thread(target=client, args=(s, n_requests // threads)) for s in range(threads)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        mix_s = time.monotonic() - t1
        w = wrk_mix(work, gw, tenants, wrk_seconds) if wrk_seconds else None
        m = metrics(gw)
        idle = {}
        if idle_seconds:
            # Every tenant but one falls idle; that one's requests sweep the others out.
            end_rss = rss_mb(proc.pid)
            time.sleep(idle_seconds + 1)
            for _ in range(3):
                recommend(gw, tenants[0], tenants[0]["users"][0])
                time.sleep(1.1)
            mi = metrics(gw)
            idle = {"rss": rss_mb(proc.pid), "models": mi.get("embedrec_models_resident_tenants", 0),
                    "dbs": mi.get("embedrec_tenant_databases_open", 0), "busy_rss": end_rss}
        return {"budget": budget, "idle": idle, "listen_s": listen_s, "ready_s": ready_s, "start_rss": start_rss,
                "end_rss": rss_mb(proc.pid), "end_anon": rss_mb(proc.pid, "RssAnon"),
                "end_file": rss_mb(proc.pid, "RssFile"), "cold_p50": pct(cold, 50), "cold_max": max(cold),
                "p50": pct(lat, 50), "p99": pct(lat, 99), "rps": len(lat) / mix_s, "metrics": m, "wrk": w}
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--budgets", default="none,64MiB")
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--wrk-seconds", type=int, default=20, help="the wrk mix's length (0: none)")
    ap.add_argument("--idle-seconds", type=int, default=0,
                    help="also: close idle tenants after this many seconds, and measure once all but one are")
    args = ap.parse_args()
    work = OUT / f"density_{args.tenants}"
    tenants = build(work, args.tenants)
    total = sum(t["interactions"] for t in tenants)
    rows, idle_rows, held_rows = [], [], []
    for budget in args.budgets.split(","):
        r = measure(work, tenants, budget, args.requests, args.idle_seconds, wrk_seconds=args.wrk_seconds)
        m = r["metrics"]
        w = r["wrk"] or {"p50_ms": 0, "p99_ms": 0, "rps": 0, "non2xx": 0}
        mb = lambda name: m.get(name, 0) / 2**20  # noqa: E731
        held_rows.append(
            f"| {budget} | {mb('embedrec_serving_resident_bytes'):.0f} | {mb('embedrec_models_resident_bytes'):.0f} | "
            f"{mb('embedrec_catalogs_resident_bytes'):.0f} | {mb('embedrec_activity_resident_bytes'):.0f} | "
            f"{mb('embedrec_recommendation_log_budgeted_bytes'):.1f} | "
            f"{m.get('embedrec_serving_resident_tenants', 0):.0f} | {m.get('embedrec_tenant_evictions', 0):.0f} | "
            f"{r['end_rss']:.0f} | {r['end_anon']:.0f} | {r['end_file']:.0f} | {w['p50_ms']:.2f} | {w['p99_ms']:.2f} | {w['rps']:.0f} | {w['non2xx']} |")
        print(held_rows[-1], file=sys.stderr)
        rows.append(
            f"| {budget} | {r['listen_s']:.2f} | {r['ready_s']:.2f} | {r['start_rss']:.0f} | "
            f"{r['end_rss']:.0f} | {m.get('embedrec_models_resident_tenants', 0):.0f} | "
            f"{m.get('embedrec_models_resident_bytes', 0) / 2**20:.0f} | "
            f"{m.get('embedrec_model_loads', 0):.0f} | {m.get('embedrec_model_evictions', 0):.0f} | "
            f"{r['cold_p50']:.1f} / {r['cold_max']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rps']:.0f} |")
        print(rows[-1], file=sys.stderr)
        if r["idle"]:
            i = r["idle"]
            idle_rows.append(f"| {budget} | {i['busy_rss']:.0f} | {i['rss']:.0f} | {i['dbs']:.0f} | {i['models']:.0f} |")
    text = (f"{len(tenants)} tenants, {total:,} interactions in all (the largest {tenants[0]['interactions']:,}), "
            f"an ALS model each; {args.requests} recommendation requests over 8 threads, tenants drawn "
            "with Zipf popularity (s = 1.1)\n\n"
            "| budget | listen s | /readyz s | RSS after start MB | RSS at end MB | resident tenants | "
            "resident model MB | loads | evictions | cold ms p50 / max | warm ms p50 | p99 | req/s |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n" + "\n".join(rows))
    if held_rows:
        text += (f"\n\nWhat serving holds after the mix and wrk ({args.wrk_seconds} s, 8 connections, a Zipf draw of "
                 "20,000 requests, each tenant in it asked once before), estimated, /metrics:\n\n"
                 "| budget | serving MB | models MB | catalogs MB | popularity + profiles MB | log's recent answers MB | tenants held | "
                 "tenants evicted | RSS MB | of which heap (RssAnon) | mapped files (RssFile) | wrk p50 ms | p99 ms | "
                 "req/s | non-2xx |\n"
                 "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(held_rows))
    if idle_rows:
        text += (f"\n\nOnce every tenant but one was idle for {args.idle_seconds} s "
                 "(EMBEDREC_TENANT_IDLE_SECONDS):\n\n"
                 "| budget | RSS after the mix MB | RSS once idle MB | databases open | tenants with models in memory |\n"
                 "|---|---:|---:|---:|---:|\n" + "\n".join(idle_rows))
    publish(f"density_{len(tenants)}", text)


if __name__ == "__main__":
    main()
