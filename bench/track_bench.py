#!/usr/bin/env python3
"""Real-time tracking benchmark (issue 3): wrk with 64 connections POSTing
distinct interactions to /api/v1/interactions; then checks that every
acknowledged (2xx) event is stored, by counting the tenant's interactions.

Usage: bench/track_bench.py [--duration 10] [--connections 64]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from embedrec_server import ADMIN, BIN, ROOT, call, start
from report import publish


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrec-track-bench-"))
    proc = None
    try:
        subprocess.run([BIN, "generate-shop", "--out", str(work / "shop"), "--items", "1000",
                        "--interactions", "0"], check=True, capture_output=True)
        proc, ports = start(work)
        port = ports["gateway"]
        tenant = call(port, "POST", "/api/v1/admin/tenants", {"name": "B", "slug": "b"}, ADMIN)
        key = call(port, "POST", "/api/v1/api-keys",
                   {"name": "k", "scopes": ["interactions:write", "data:write"],
                    "tenant_id": tenant["id"]}, ADMIN)["api_key"]
        call(port, "POST", "/api/v1/upload/items", token=key,
             raw=(work / "shop" / "items.csv").read_bytes(), ctype="text/csv")
        out = work / "wrk.json"
        wenv = dict(os.environ, BENCH_KEY=key, BENCH_OUT=str(out))
        subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "-s",
                        str(ROOT / "bench" / "track.lua"), f"http://127.0.0.1:{port}"],
                       env=wenv, check=True, capture_output=True)
        w = json.loads(out.read_text())
        acked = w["requests"] - w["non2xx"]
        stored = call(port, "GET", "/api/v1/data/quality", token=key)["counts"]["interactions"]
        rate = w["requests"] / args.duration
        table = "\n".join([
            f"wrk -t2 -c{args.connections} -d{args.duration}s, POST /api/v1/interactions, "
            "distinct users",
            "",
            "| events/s | p50 (ms) | p99 (ms) | non-2xx | acknowledged | stored afterwards |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {rate:.0f} | {w['p50_ms']:.2f} | {w['p99_ms']:.2f} | {w['non2xx']} | {acked} | {stored} |"])
        publish("track", table)
        if stored < acked:
            sys.exit(f"LOST EVENTS: {acked - stored} acknowledged events are not stored")
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
