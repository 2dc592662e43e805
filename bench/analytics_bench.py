"""Issue 15: what analytics costs on the hot path, and how fast the
dashboard answers over 30 days of a Sarah-sized shop.

1. Hot path, A/B in one run: one data directory (a generated Sarah-sized
   shop: 10,000 items, 5,000 users, 150,000 rows; an ALS model), the same
   binary started in turn with EMBEDREC_ANALYTICS=1 and =0, interleaved
   rounds (which goes first alternates); each round: recommendations (wrk, 8 connections, users spread
   over all 5,000) then tracking (bench/track.lua, 8 connections, a new
   user per event), each after 3 s of warm-up. Aim: <= 5 % fewer req/s with analytics on.
2. Dashboard: 30 days of rollups as analytics writes them (hourly counters
   for every route, answer kind, model version and key; per-item days),
   10M item impressions in all spread over the shop's 10,000 items by a
   Zipf law, written into the tenant's analytics.db; then
   GET /api/v1/analytics/tenant/{tenant}/dashboard?period=last_30_days and
   the 30-day daily revenue time series, timed 30 times each. Aim: <= 100 ms.

Usage: python3 bench/analytics_bench.py [--work DIR] [--rounds 3] [--duration 10]
"""
import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

from embedrec_server import ALL_SCOPES, ROOT, call, generated_shop_tenant, start, wait_job, wrk

SCOPES = ALL_SCOPES


def prepare(work):
    """The shop uploaded and trained once; returns (tenant id, key)."""
    meta = work / "tenant.json"
    if meta.exists():
        m = json.loads(meta.read_text())
        return m["tenant"], m["key"]
    proc, ports = start(work, extra_env={"EMBEDREC_ANALYTICS": "0"})
    try:
        t, key = generated_shop_tenant(work, ports, "sarah", SCOPES)
        job = call(ports["ml"], "POST", "/api/v1/train", {"model_type": "als"}, token=key)
        done = wait_job(ports["ml"], key, job)
        assert done["status"] == "completed", done
    finally:
        proc.terminate()
        proc.wait()
    meta.write_text(json.dumps({"tenant": t["id"], "key": key}))
    return t["id"], key


def hot_path(work, key, rounds, duration):
    rows = []
    for r in range(rounds):
        # The order alternates: on first in odd rounds, off first in even ones.
        for mode in (("1", "0") if r % 2 == 0 else ("0", "1")):
            # Each arm starts from an empty recommendation log: at its first answers
            # analytics seeds its record of the users answered in the last day from the
            # log (once per start, on its own thread; timed apart, see docs/benchmarks.md),
            # which would otherwise grow with every round and run into the measurement.
            log = sqlite3.connect(next((work / "data" / "tenants").glob("*/recommendations.db")))
            log.execute("DELETE FROM recommendations")
            log.commit()
            log.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # not left for the server to do
            log.close()
            proc, ports = start(work, extra_env={"EMBEDREC_ANALYTICS": mode})
            try:
                gw = f"http://127.0.0.1:{ports['gateway']}"
                call(ports["gateway"], "POST", "/api/v1/recommendations", {"user_id": "USER_000001"}, token=key)
                env = {"BENCH_KEY": key, "BENCH_N": "5000", "BENCH_KIND": "recommend",
                       "BENCH_OUT": str(work / "wrk.json")}
                wrk(gw, 8, 3, env)
                rec = wrk(gw, 8, duration, env)
                out = work / "track.json"
                # Warmed up as recommendations are: after a start, analytics' first tracked
                # view seeds its record of the users answered in the last day from the log
                # (a one-time scan, on its own thread), which the measured seconds should not hold.
                for seconds in (3, duration):
                    subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s",
                                    str(ROOT / "bench" / "track.lua"), gw],
                                   env={"BENCH_KEY": key, "BENCH_OUT": str(out), "PATH": "/usr/bin:/bin"},
                                   check=True, capture_output=True)
                tr = json.loads(out.read_text())
                row = {"round": r + 1, "analytics": mode == "1",
                       "recommend_rps": round(rec["rps"]), "recommend_p50_ms": round(rec["p50_ms"], 2),
                       "recommend_p99_ms": round(rec["p99_ms"], 2),
                       "track_rps": round(tr["requests"] / duration), "track_non2xx": tr["non2xx"],
                       "track_p99_ms": round(tr["p99_ms"], 2)}
                rows.append(row)
                print(json.dumps(row), flush=True)
            finally:
                proc.terminate()
                proc.wait()
    for kind in ("recommend_rps", "track_rps"):
        on = statistics.median(x[kind] for x in rows if x["analytics"])
        off = statistics.median(x[kind] for x in rows if not x["analytics"])
        print(json.dumps({"median": kind, "on": on, "off": off, "loss_percent": round(100 * (1 - on / off), 1)}))


def fill_month(db_path, impressions_total=10_000_000, items=10_000, days=30, seed=7):
    """Rollups of `days` days, as analytics writes them, ending at the current hour."""
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000)
    hour = 3_600_000
    day = 24 * hour
    last_hour = now_ms // hour * hour
    hours = [last_hour - i * hour for i in range(days * 24)]
    weights = [1 / (i + 1) ** 0.9 for i in range(items)]
    total_w = sum(weights)
    con = sqlite3.connect(db_path)
    con.execute("DELETE FROM counters")
    con.execute("DELETE FROM item_days")
    con.execute("DELETE FROM item_windows")  # kept sums of the days rewritten here
    con.execute("DELETE FROM item_window_sums")
    routes = ["POST /api/v1/recommendations", "POST /api/v1/recommendations/similar",
              "GET /api/v1/recommendations/popular", "POST /api/v1/interactions", "POST /api/v1/interactions/batch",
              "GET /api/v1/analytics/tenant/{tenant}/dashboard"]
    keys = ["key_web", "key_app", ""]
    versions = ["v1.0_20261101", "v1.1_20261115"]
    answers_per_hour = impressions_total / 10 / len(hours)
    counters = []
    for h in hours:
        for route in routes:
            for k in keys:
                calls = answers_per_hour / 4
                counters.append((h, "calls", route, "", k, calls))
                counters.append((h, "latency_ms", route, "", k, calls * 2.5))
                for b in range(8, 22):
                    counters.append((h, f"latency_bucket_{b}", route, "", k, calls / 14))
        for kind in ("recommendations", "similar", "popular"):
            for v in versions:
                for k in keys:
                    served = answers_per_hour / 18
                    counters.append((h, "served", kind, v, k, served))
                    counters.append((h, "items_shown", kind, v, k, served * 10))
                    counters.append((h, "cache_hits", kind, v, k, served * 0.3))
                counters.append((h, "clicks", kind, v, "", answers_per_hour / 60))
                counters.append((h, "carts", kind, v, "", answers_per_hour / 200))
                counters.append((h, "orders", kind, v, "", answers_per_hour / 500))
                counters.append((h, "revenue", kind, v, "", answers_per_hour / 500 * 80))
        for k in keys:
            counters.append((h, "events_tracked", "", "", k, answers_per_hour))
    con.executemany("INSERT INTO counters VALUES (?, ?, ?, ?, ?, ?)", counters)
    # The day rollup analytics keeps beside the hours.
    con.execute("DELETE FROM counters_day")
    con.execute("INSERT INTO counters_day SELECT hour_ms / 86400000 * 86400000, metric, endpoint, model_version, "
                "key_id, SUM(value) FROM counters GROUP BY 1, 2, 3, 4, 5")
    item_rows = []
    per_day = impressions_total / days
    for d in range(days):
        d_ms = (last_hour - d * day) // day * day
        for i in range(items):
            shown = per_day * weights[i] / total_w
            if shown < 0.5 and rng.random() > shown:
                continue
            shown = max(1.0, round(shown))
            item_rows.append((d_ms, f"PROD_{i + 1:06d}", shown, shown * 0.05, shown * 0.01, shown * 0.004,
                              shown * 0.004 * 80))
    con.executemany("INSERT OR REPLACE INTO item_days VALUES (?, ?, ?, ?, ?, ?, ?)", item_rows)
    con.commit()
    n_counters = con.execute("SELECT COUNT(*) FROM counters").fetchone()[0]
    n_days = con.execute("SELECT COUNT(*) FROM counters_day").fetchone()[0]
    n_items = con.execute("SELECT COUNT(*) FROM item_days").fetchone()[0]
    shown = con.execute("SELECT SUM(impressions) FROM item_days").fetchone()[0]
    con.close()
    return {"counter_rows": n_counters, "counter_day_rows": n_days, "item_day_rows": n_items,
            "item_impressions": round(shown)}


def timed_get(port, path, key, n):
    times = []
    for _ in range(n):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
        req.add_header("Authorization", f"Bearer {key}")
        t0 = time.perf_counter()
        with urllib.request.urlopen(req) as r:
            r.read()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(0.95 * (n - 1))], 1),
            "max_ms": round(times[-1], 1)}


def dashboard(work, tenant, key, n=30):
    db = work / "data" / "tenants" / tenant / "analytics.db"
    proc, ports = start(work, extra_env={"EMBEDREC_ANALYTICS": "1"})
    try:  # the database exists once something was counted
        call(ports["gateway"], "POST", "/api/v1/recommendations", {"user_id": "USER_000001"}, token=key)
        deadline = time.monotonic() + 10
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait()
    filled = fill_month(db)
    print(json.dumps({"filled": filled}), flush=True)
    month = f"/api/v1/analytics/tenant/{tenant}/dashboard?period=last_30_days"
    # The first call after a start, in the three cases a shop meets, each
    # three times (a start each): nothing kept (its first dashboard ever:
    # every item-day summed, the data counted in the background); the runs
    # kept by such a call (a restart the same day); the kept item run a day
    # behind (the first view of a new day: slid by a day).
    forget = ["DELETE FROM item_windows", "DELETE FROM item_window_sums"]
    # (the kept run made what it would have been a day earlier: the sums of the days a day back)
    behind = ["UPDATE item_windows SET from_day_ms = from_day_ms - 86400000, to_day_ms = to_day_ms - 86400000",
              "DELETE FROM item_window_sums",
              "INSERT INTO item_window_sums SELECT w.days, d.item_id, SUM(d.impressions), SUM(d.clicks), "
              "SUM(d.carts), SUM(d.purchases), SUM(d.revenue) FROM item_windows w JOIN item_days d "
              "ON d.day_ms >= w.from_day_ms AND d.day_ms < w.to_day_ms GROUP BY w.days, d.item_id"]
    for what, changes in (("nothing kept", forget), ("a restart, sums kept", []),
                          ("a new day, sums a day behind", behind)):
        times = []
        for _ in range(3):
            con = sqlite3.connect(db)
            for change in changes:
                con.execute(change)
            con.commit()
            con.close()
            if changes is forget:
                con = sqlite3.connect(db.parent / "tenant.db")  # the data counts kept
                con.execute("DELETE FROM serving_snapshots WHERE name = 'data-counts'")
                con.commit()
                con.close()
            proc, ports = start(work, extra_env={"EMBEDREC_ANALYTICS": "1"})
            try:
                times.append(timed_get(ports["gateway"], month, key, 1)["median_ms"])
            finally:
                proc.terminate()
                proc.wait()
        print(json.dumps({"path": f"dashboard?period=last_30_days (first after a start: {what})",
                          "median_ms": statistics.median(times), "all_ms": times}), flush=True)
    proc, ports = start(work, extra_env={"EMBEDREC_ANALYTICS": "1"})
    try:
        gw = ports["gateway"]
        for path in (f"/api/v1/analytics/tenant/{tenant}/dashboard?period=last_30_days",
                     f"/api/v1/analytics/tenant/{tenant}/timeseries?metric=revenue&interval=day&period=last_30_days",
                     f"/api/v1/analytics/tenant/{tenant}/timeseries?metric=latency_p95&interval=hour&period=last_30_days"):
            timed_get(gw, path, key, 3)  # warm
            print(json.dumps({"path": path.split("?")[0].rsplit("/", 1)[1] + "?" + path.split("?")[1],
                              **timed_get(gw, path, key, n)}), flush=True)
        d = call(gw, "GET", f"/api/v1/analytics/tenant/{tenant}/dashboard?period=last_30_days", token=key)
        print(json.dumps({"check": {"served": d["metrics"]["total_recommendations_served"],
                                    "top_item": d["top_recommended_items"][0]}}), flush=True)
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=str(ROOT / "bench" / "out" / "analytics"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--parts", default="hot,dashboard")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tenant, key = prepare(work)
    # The dashboard first: the hot path's tracking adds ~100k events a round to the shop.
    if "dashboard" in args.parts:
        dashboard(work, tenant, key)
    if "hot" in args.parts:
        hot_path(work, key, args.rounds, args.duration)


if __name__ == "__main__":
    main()
