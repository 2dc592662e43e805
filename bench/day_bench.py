#!/usr/bin/env python3
"""A busy shop's day of answers on one tenant: does anything grow with the
recommendation log? (No benchmark drove one: the soak's ten minutes log
~5M answers over 5,000 users at most, the density bench a few per user.)

One tenant (generate-shop: 10,000 items, 5,000 users, 150,000 interactions;
an ALS model; the result cache off, so every answer is ranked and logged),
then the site mix of bench/recommend.lua (BENCH_KIND=mix: recommendations
60 %, similar items 20 %, tracked views 20 %, attributed to the user's
recent answers) over --users visitors (USER_000001…; those past the
shop's 5,000 are unknown to the model: trending), at full speed, in rounds
of --round seconds for --minutes. After each round: the answers logged so
far (the dashboard's total_recommendations_served), the round's req/s and
p99, the server's RSS, what the log's in-memory part counts
(embedrec_recommendation_log_budgeted_bytes), the data dir's size, and the
median of 20 dashboard reads and of 20 tracked views (each attributed to an
answer given just before).

What should hold as the log grows: the rate and p99 near the first round's,
memory bounded, the dashboard and a tracked view as fast at the end.

  python3 bench/day_bench.py [--minutes 6] [--round 30] [--users 50000] [--connections 16]
"""
import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from embedrec_server import BIN, call, metric_value, rss_mb, start, tenant_key, upload_file, wrk
from report import publish


def dir_mb(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20


def median_ms(fn, n=20):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=6)
    ap.add_argument("--round", type=int, default=30)
    ap.add_argument("--users", type=int, default=50000)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrec-day-"))
    subprocess.run([BIN, "generate-shop", "--out", str(work / "shop"), "--items", "10000", "--users", "5000",
                    "--interactions", "150000"], check=True, capture_output=True)
    proc, ports = start(work)
    gw, ml, pipe = ports["gateway"], ports["ml"], ports["pipeline"]
    rows = []
    try:
        tenant, key = tenant_key(gw, "day", ["data:write", "models:train", "recommendations:read",
                                              "interactions:write", "analytics:read"], {"cache_ttl_seconds": 0})
        for kind in ("items", "interactions"):
            upload_file(pipe, f"/api/v1/upload/{kind}", key, work / "shop" / f"{kind}.csv")
        job = call(ml, "POST", "/api/v1/train", {"model_type": "als"}, token=key)
        while call(ml, "GET", job["progress_url"], token=key)["status"] not in ("completed", "failed"):
            time.sleep(0.2)
        dashboard = f"/api/v1/analytics/tenant/{tenant['id']}/dashboard"
        env = {"BENCH_KEY": key, "BENCH_KIND": "mix", "BENCH_N": str(args.users), "BENCH_ITEMS": "10000",
               "BENCH_OUT": str(work / "w.json")}
        url = f"http://127.0.0.1:{gw}"
        n = 0

        def tracked_view():
            nonlocal n
            n += 1
            user = f"USER_{1 + (n * 7) % 5000:06d}"
            rec = call(gw, "POST", "/api/v1/recommendations", {"user_id": user, "count": 5}, token=key)
            call(gw, "POST", "/api/v1/interactions",
                 {"user_id": user, "item_id": rec["recommendations"][0]["item_id"], "interaction_type": "view"},
                 token=key)

        t0 = time.monotonic()
        while time.monotonic() - t0 < args.minutes * 60:
            r = wrk(url, args.connections, args.round, env)
            answers = call(gw, "GET", dashboard, token=key)["metrics"]["total_recommendations_served"]
            row = {"t_s": round(time.monotonic() - t0), "answers": answers, "rps": r["rps"], "p99_ms": r["p99_ms"],
                   "rss_mb": rss_mb(proc.pid),
                   "log_mb": metric_value(gw, "embedrec_recommendation_log_budgeted_bytes") / 2**20,
                   "data_mb": dir_mb(work / "data"),
                   "dashboard_ms": median_ms(lambda: call(gw, "GET", dashboard, token=key)),
                   "recommend_and_view_ms": median_ms(tracked_view)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        proc.terminate()
        proc.wait()
    lines = ["| after (s) | answers logged | req/s | p99 ms | RSS MB | log in memory MB | data dir MB | dashboard ms | a recommendation + its view ms |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['t_s']} | {r['answers']:,} | {r['rps']:,.0f} | {r['p99_ms']:.2f} | {r['rss_mb']:.0f} | "
                     f"{r['log_mb']:.1f} | {r['data_mb']:.0f} | {r['dashboard_ms']:.1f} | {r['recommend_and_view_ms']:.1f} |")
    publish("day", "\n".join(lines))


if __name__ == "__main__":
    main()
