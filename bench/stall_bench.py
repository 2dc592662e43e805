#!/usr/bin/env python3
"""One tenant must not stall the others (issue 13, item 8).

Two big tenants (the same generated shop uploaded to each) keep six slow
requests each in flight — each tracks an event, then asks for its
data-quality report, which the new event makes a full scan of its
interactions — while a small tenant's recommendations and logins are timed.
The small tenant's latency is measured alone, then under that load; each
binary (EMBEDREC_BIN, and --before, an older build) in interleaved rounds.

Usage: bench/stall_bench.py [--interactions 1000000] [--before PATH] [--rounds 2]
"""
import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import embedrec_server
from embedrec_server import ADMIN, call, start
from report import publish

PASSWORD = "SecurePass123!"


def timed(port, method, path, body, token):
    t0 = time.perf_counter()
    call(port, method, path, body, token)
    return (time.perf_counter() - t0) * 1000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def tenant(port, slug, scopes):
    t = call(port, "POST", "/api/v1/admin/tenants", {"name": slug, "slug": slug}, ADMIN)
    email = f"admin@{slug}.example.com"
    call(port, "POST", "/api/v1/admin/users",
         {"email": email, "password": PASSWORD, "role": "admin", "tenant_id": t["id"]}, ADMIN)
    key = call(port, "POST", "/api/v1/api-keys", {"name": "k", "scopes": scopes, "tenant_id": t["id"]},
               ADMIN)["api_key"]
    return t, email, key


def upload(port, key, kind, path):
    call(port, "POST", f"/api/v1/upload/{kind}", token=key, raw=path.read_bytes(), ctype="text/csv")


def measure(port, small_key, small_email, n=200, logins=10):
    recs = [timed(port, "POST", "/api/v1/recommendations", {"user_id": f"U{i % 50}", "count": 10}, small_key)
            for i in range(n)]
    log = [timed(port, "POST", "/api/v1/auth/login", {"email": small_email, "password": PASSWORD}, None)
           for _ in range(logins)]
    return recs, log


def run(binary, work, shop, small, args):
    embedrec_server.BIN = binary
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    proc, ports = start(work)
    port = ports["gateway"]
    try:
        scopes = ["data:write", "analytics:read", "recommendations:read", "interactions:write"]
        bigs = []
        for slug in ("big-a", "big-b"):
            _, _, key = tenant(port, slug, scopes)
            upload(port, key, "items", shop / "items.csv")
            upload(port, key, "interactions", shop / "interactions.csv")
            bigs.append(key)
        _, small_email, small_key = tenant(port, "small", scopes)
        upload(port, small_key, "items", small / "items.csv")
        upload(port, small_key, "interactions", small / "interactions.csv")
        # One report alone, for scale.
        report_ms = timed(port, "GET", "/api/v1/data/quality", None, bigs[0])
        measure(port, small_key, small_email, n=50, logins=2)  # warm
        alone = measure(port, small_key, small_email)
        stop = threading.Event()
        done = []

        def hammer(key):
            n = 0
            while not stop.is_set():
                try:
                    # A tracked event moves the data on: the report is computed again (a full scan).
                    n += 1
                    call(port, "POST", "/api/v1/interactions",
                         {"user_id": f"hammer-{threading.get_ident()}-{n}", "item_id": "PROD_000001",
                          "interaction_type": "view"}, key)
                    call(port, "GET", "/api/v1/data/quality", None, key)
                    done.append(1)
                except Exception:
                    pass
        threads = [threading.Thread(target=hammer, args=(k,)) for k in bigs for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(1.0)  # the slow requests are in flight
        loaded = measure(port, small_key, small_email)
        stop.set()
        for t in threads:
            t.join()
        return {"report_ms": report_ms, "alone": alone, "loaded": loaded, "reports": len(done)}
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--interactions", type=int, default=1_000_000)
    ap.add_argument("--before", help="an older embedrec binary to compare with")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrec-stall-bench-"))
    try:
        shop, small = work / "shop", work / "small"
        gen = embedrec_server.BIN
        subprocess.run([gen, "generate-shop", "--out", str(shop), "--users", "50000", "--items", "20000",
                        "--interactions", str(args.interactions)], check=True, capture_output=True)
        subprocess.run([gen, "generate-shop", "--out", str(small), "--users", "50", "--items", "200",
                        "--interactions", "2000"], check=True, capture_output=True)
        binaries = [("after", embedrec_server.BIN)] + ([("before", args.before)] if args.before else [])
        results = {name: [] for name, _ in binaries}
        for _ in range(args.rounds):
            for name, b in (binaries if _ % 2 == 0 else binaries[::-1]):
                results[name].append(run(b, work, shop, small, args))
        lines = [f"Two tenants with {args.interactions:,} interactions each keep 6 data-quality reports each "
                 "in flight; a small tenant's latency (ms), alone and under that load; "
                 f"{args.rounds} interleaved rounds.", "",
                 "| binary | one report | recs p50 alone | recs p99 alone | recs p50 loaded | recs p99 loaded "
                 "| login p50 alone | login p50 loaded | login max loaded | reports done |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for name, rs in results.items():
            for r in rs:
                ar, al = r["alone"]
                lr, ll = r["loaded"]
                lines.append(f"| {name} | {r['report_ms']:.0f} | {pct(ar, 50):.2f} | {pct(ar, 99):.2f} | "
                             f"{pct(lr, 50):.2f} | {pct(lr, 99):.2f} | {statistics.median(al):.0f} | "
                             f"{statistics.median(ll):.0f} | {max(ll):.0f} | {r['reports']} |")
        publish("stall", "\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
