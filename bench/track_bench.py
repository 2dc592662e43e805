#!/usr/bin/env python3
"""Real-time tracking benchmark (issues 3 and 19): wrk POSTing distinct
interactions to /api/v1/interactions (each request a new user viewing an
item), beside nginx serving a static file of the answer's size at the same
connection counts, in interleaved rounds; then checks that every acknowledged
(2xx) event is stored, by counting the tenant's interactions.

Usage: bench/track_bench.py [--duration 10] [--connections 64,8] [--rounds 3]
       [--bins BEFORE,AFTER]   (two builds side by side, each on its own data)
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
    ap.add_argument("--bins", default="")
    args = ap.parse_args()
    conns = [int(c) for c in args.connections.split(",")]
    work = Path(tempfile.mkdtemp(prefix="embedrec-track-bench-"))
    os.chmod(work, 0o755)  # nginx workers run as another user
    procs = []
    try:
        subprocess.run([BIN, "generate-shop", "--out", str(work / "shop"), "--items", "1000",
                        "--interactions", "0"], check=True, capture_output=True)
        bins = args.bins.split(",") if args.bins else [BIN]
        servers = []  # (label, port, key)
        for i, b in enumerate(bins):
            proc, ports = start(work, name=f"data{i}", bin=b)
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
            servers.append((f"embedrec {b}" if args.bins else "embedrec", port, key))
        www = work / "www"
        www.mkdir()
        (www / "ack.json").write_bytes(b"x" * len(sample))
        nginx, nport = start_nginx(work, www, "ack.json")
        procs.append(nginx)

        out = work / "wrk.json"
        acked = {label: 0 for label, _, _ in servers}
        samples = {(who, c): [] for c in conns for who in [l for l, _, _ in servers] + ["nginx"]}
        for rnd in range(args.rounds):
            for c in conns:
                for label, port, key in (servers if rnd % 2 == 0 else servers[::-1]):
                    # A prefix per run: every request is still a user never seen before.
                    wenv = dict(os.environ, BENCH_KEY=key, BENCH_OUT=str(out), BENCH_PREFIX=f"R{rnd}C{c}_")
                    subprocess.run(["wrk", "-t2", f"-c{c}", f"-d{args.duration}s", "-s",
                                    str(ROOT / "bench" / "track.lua"), f"http://127.0.0.1:{port}"],
                                   env=wenv, check=True, capture_output=True)
                    w = json.loads(out.read_text())
                    acked[label] += w["requests"] - w["non2xx"]
                    r = {"rps": w["requests"] / args.duration, "p50_ms": w["p50_ms"], "p99_ms": w["p99_ms"],
                         "non2xx": w["non2xx"]}
                    samples[(label, c)].append(r)
                    print(f"round {rnd + 1}, {c} conn: {label} {r['rps']:.0f} events/s p99 {r['p99_ms']:.2f} ms "
                          f"non-2xx {r['non2xx']}", file=sys.stderr)
                n = wrk_static(f"http://127.0.0.1:{nport}/ack.json", c, args.duration)
                samples[("nginx", c)].append(n)
                print(f"round {rnd + 1}, {c} conn: nginx {n['rps']:.0f} req/s p99 {n['p99_ms']:.2f} ms",
                      file=sys.stderr)
        stored = {label: call(port, "GET", "/api/v1/data/quality", token=key)["counts"]["interactions"] - 1
                  for label, port, key in servers}
        lines = [f"wrk -t2 -d{args.duration}s, POST /api/v1/interactions, a new user per request; "
                 f"nginx: a static file of the answer's size ({len(sample)} B); "
                 f"{args.rounds} interleaved rounds, medians",
                 "",
                 "| connections | server | events/s | p50 ms | p99 ms | non-2xx | nginx req/s | nginx p99 ms | vs nginx |",
                 "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for c in conns:
            n = samples[("nginx", c)]
            nrps = median([r["rps"] for r in n])
            for label, _, _ in servers:
                e = samples[(label, c)]
                erps = median([r["rps"] for r in e])
                lines.append(f"| {c} | {label} | {erps:.0f} | {median([r['p50_ms'] for r in e]):.2f} | "
                             f"{median([r['p99_ms'] for r in e]):.2f} | {sum(r['non2xx'] for r in e)} | "
                             f"{nrps:.0f} | {median([r['p99_ms'] for r in n]):.2f} | {100 * erps / nrps:.0f}% |")
        lines.append("")
        for label, _, _ in servers:
            lines.append(f"{label}: acknowledged {acked[label]}, stored afterwards {stored[label]}")
        publish("track", "\n".join(lines))
        lost = {label: acked[label] - stored[label] for label, _, _ in servers if stored[label] < acked[label]}
        if lost:
            sys.exit(f"LOST EVENTS: {lost}")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
