#!/usr/bin/env python3
"""HTTP benchmark (issue 2): wrk with 64 connections against

  * embedrec GET /healthz
  * embedrec GET /api/v1/api-keys with an API key (authenticated, reads the store)
  * nginx serving static files of the same sizes as those two answers

all on this machine in one run, so the ratios are meaningful even on a noisy
host. Prints a Markdown table; writes it to bench/out/http.md too.

Usage: bench/http_bench.py [--duration 5] [--rounds 3] [--connections 64] [--threads 2]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from embedrec_server import start_nginx
from report import publish

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("EMBEDREC_BIN", str(ROOT / "build" / "embedrec"))
ADMIN = "bench-admin-token-0123456789"


def wait_for(pred, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def call(port, method, path, body=None, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as r:
        return r.read()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url, args, header=None):
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    if header:
        cmd += ["-H", header]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale,
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(0) if errors else ""}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3,
                    help="targets run interleaved this many times; medians are reported")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} is missing: run scripts/install-deps --bench")

    work = Path(tempfile.mkdtemp(prefix="embedrec-bench-"))
    os.chmod(work, 0o755)
    procs = []
    try:
        # --- embedrec ---
        port_file = work / "ports.json"
        env = dict(os.environ, EMBEDREC_DATA_DIR=str(work / "data"), EMBEDREC_ADMIN_TOKEN=ADMIN,
                   EMBEDREC_GATEWAY_PORT="0", EMBEDREC_ML_PORT="0", EMBEDREC_PIPELINE_PORT="0",
                   EMBEDREC_PORT_FILE=str(port_file), EMBEDREC_LOG_LEVEL="warn")
        if os.environ.get("BENCH_PRELOAD"):  # e.g. compare allocators, for embedrec only
            env["LD_PRELOAD"] = os.environ["BENCH_PRELOAD"]
        procs.append(subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=open(work / "embedrec.log", "wb")))
        wait_for(lambda: port_file.exists() and port_file.read_text().strip().endswith("}"),
                 what="embedrec")
        port = json.loads(port_file.read_text())["gateway"]
        tenant = json.loads(call(port, "POST", "/api/v1/admin/tenants",
                                 {"name": "Bench", "slug": "bench"}, ADMIN))
        call(port, "POST", "/api/v1/admin/users",
             {"email": "b@bench.io", "password": "SecurePass123!", "tenant_id": tenant["id"],
              "role": "admin"}, ADMIN)
        login = json.loads(call(port, "POST", "/api/v1/auth/login",
                                {"email": "b@bench.io", "password": "SecurePass123!"}))
        key = json.loads(call(port, "POST", "/api/v1/api-keys",
                              {"name": "bench", "scopes": ["recommendations:read"]},
                              login["access_token"]))["api_key"]
        health_body = call(port, "GET", "/healthz")
        keys_body = call(port, "GET", "/api/v1/api-keys", token=key)

        # --- nginx with static files of the same sizes ---
        www = work / "www"
        www.mkdir()
        (www / "healthz.json").write_bytes(b"x" * len(health_body))
        (www / "keys.json").write_bytes(b"x" * len(keys_body))
        nginx, nport = start_nginx(work, www, "healthz.json")
        procs.append(nginx)

        runs = [
            ("embedrec GET /healthz", f"http://127.0.0.1:{port}/healthz", None),
            ("nginx static file, same size as /healthz", f"http://127.0.0.1:{nport}/healthz.json", None),
            ("embedrec GET /api/v1/api-keys (API key)", f"http://127.0.0.1:{port}/api/v1/api-keys",
             f"Authorization: Bearer {key}"),
            ("nginx static file, same size as /api/v1/api-keys",
             f"http://127.0.0.1:{nport}/keys.json", None),
        ]
        # Interleave the targets over several rounds and report medians, so a
        # burst of load from elsewhere on the machine hits every target alike.
        samples = {name: [] for name, _, _ in runs}
        for rnd in range(args.rounds):
            for name, url, header in runs:
                r = wrk(url, args, header)
                samples[name].append(r)
                print(f"round {rnd + 1} {name}: {r['rps']:.0f} req/s, p99 {r['p99_ms']:.2f} ms",
                      file=sys.stderr)

        def median(xs):
            xs = sorted(xs)
            return xs[len(xs) // 2]

        results = []
        for name, _, _ in runs:
            rs = samples[name]
            results.append((name, {"rps": median([r["rps"] for r in rs]),
                                   "p99_ms": median([r["p99_ms"] for r in rs]),
                                   "non2xx": sum(r["non2xx"] for r in rs),
                                   "all_rps": [r["rps"] for r in rs]}))
        nginx_h, nginx_k = results[1][1]["rps"], results[3][1]["rps"]
        lines = [
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency, "
            f"{args.rounds} interleaved rounds, medians; "
            f"bodies {len(health_body)} B (/healthz) and {len(keys_body)} B (/api/v1/api-keys)",
            "",
            "| target | req/s (median) | req/s per round | p99 ms (median) | non-2xx | vs nginx same size |",
            "|---|---:|---|---:|---:|---:|",
        ]
        for i, (name, r) in enumerate(results):
            ref = nginx_h if i < 2 else nginx_k
            per_round = ", ".join(f"{x:.0f}" for x in r["all_rps"])
            lines.append(f"| {name} | {r['rps']:.0f} | {per_round} | {r['p99_ms']:.2f} | "
                         f"{r['non2xx']} | {100 * r['rps'] / ref:.0f}% |")
        table = "\n".join(lines)
        publish("http", table)
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
