#!/usr/bin/env python3
"""Real-time tracking benchmark (issues 3 and 19): wrk POSTing distinct
interactions to /api/v1/interactions (each request a new user viewing an
item), beside nginx serving a static file of the answer's size at the same
connection counts, in interleaved rounds; then checks that every acknowledged
(2xx) event is stored, by counting the tenant's interactions.

Usage: bench/track_bench.py [--duration 10] [--connections 64,8] [--rounds 3]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from embedrec_server import ADMIN, BIN, ROOT, call, start, start_nginx
from report import publish
from serving_bench import median, wrk_static


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", default="64,8")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    conns = [int(c) for c in args.connections.split(",")]
    work = Path(tempfile.mkdtemp(prefix="embedrec-track-bench-"))
    procs = []
    try:
        subprocess.run([BIN, "generate-shop", "--out", str(work / "shop"), "--items", "1000",
                        "--interactions", "0"], check=True, capture_output=True)
        proc, ports = start(work)
        procs.append(proc)
        port = ports["gateway"]
        tenant = call(port, "POST", "/api/v1/admin/tenants", {"name": "B", "slug": "b"}, ADMIN)
        key = call(port, "POST", "/api/v1/api-keys",
                   {"name": "k", "scopes": ["interactions:write", "data:write"],
                    "tenant_id": tenant["id"]}, ADMIN)["api_key"]
        call(port, "POST", "/api/v1/upload/items", token=key,
             raw=(work / "shop" / "items.csv").read_bytes(), ctype="text/csv")
        sample = json.dumps(call(port, "POST", "/api/v1/interactions",
                                 {"user_id": "probe", "item_id": "PROD_000001", "interaction_type": "view"},
                                 token=key))
        www = work / "www"
        www.mkdir()
        (www / "ack.json").write_bytes(b"x" * len(sample))
        nginx, nport = start_nginx(work, www, "ack.json")
        procs.append(nginx)

        out = work / "wrk.json"
        acked = 0
        samples = {(who, c): [] for c in conns for who in ("embedrec", "nginx")}
        for rnd in range(args.rounds):
            for c in conns:
                # A prefix per run: every request is still a user never seen before.
                wenv = dict(os.environ, BENCH_KEY=key, BENCH_OUT=str(out), BENCH_PREFIX=f"R{rnd}C{c}_")
                subprocess.run(["wrk", "-t2", f"-c{c}", f"-d{args.duration}s", "-s",
                                str(ROOT / "bench" / "track.lua"), f"http://127.0.0.1:{port}"],
                               env=wenv, check=True, capture_output=True)
                w = json.loads(out.read_text())
                acked += w["requests"] - w["non2xx"]
                r = {"rps": w["requests"] / args.duration, "p50_ms": w["p50_ms"], "p99_ms": w["p99_ms"],
                     "non2xx": w["non2xx"]}
                samples[("embedrec", c)].append(r)
                n = wrk_static(f"http://127.0.0.1:{nport}/ack.json", c, args.duration)
                samples[("nginx", c)].append(n)
                print(f"round {rnd + 1}, {c} conn: embedrec {r['rps']:.0f} events/s p99 {r['p99_ms']:.2f} ms "
                      f"non-2xx {r['non2xx']}; nginx {n['rps']:.0f} req/s p99 {n['p99_ms']:.2f} ms",
                      file=sys.stderr)
        stored = call(port, "GET", "/api/v1/data/quality", token=key)["counts"]["interactions"] - 1
        lines = [f"wrk -t2 -d{args.duration}s, POST /api/v1/interactions, a new user per request; "
                 f"nginx: a static file of the answer's size ({len(sample)} B); "
                 f"{args.rounds} interleaved rounds, medians",
                 "",
                 "| connections | embedrec events/s | p50 ms | p99 ms | non-2xx | nginx req/s | nginx p99 ms | vs nginx |",
                 "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for c in conns:
            e, n = samples[("embedrec", c)], samples[("nginx", c)]
            erps, nrps = median([r["rps"] for r in e]), median([r["rps"] for r in n])
            lines.append(f"| {c} | {erps:.0f} | {median([r['p50_ms'] for r in e]):.2f} | "
                         f"{median([r['p99_ms'] for r in e]):.2f} | {sum(r['non2xx'] for r in e)} | "
                         f"{nrps:.0f} | {median([r['p99_ms'] for r in n]):.2f} | {100 * erps / nrps:.0f}% |")
        lines.append("")
        lines.append(f"acknowledged {acked}, stored afterwards {stored}")
        publish("track", "\n".join(lines))
        if stored < acked:
            sys.exit(f"LOST EVENTS: {acked - stored} acknowledged events are not stored")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
