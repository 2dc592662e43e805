#!/usr/bin/env python3
"""Import benchmark (issue 3): a generated shop's interaction CSV uploaded over
HTTP to embedrec, beside `sqlite3 .import` of the same file into a table of the
same columns, in one run. Reports rows/s and embedrec's peak RSS for several
file sizes, to show whether memory stays flat as the file grows.

Usage: bench/import_bench.py [--sizes 1000000,10000000] [--user-share 0.05]
(--user-share: users per row of the file, all of them new to the tenant;
0.5 makes a 5M-row file bring 2.5M new users)
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from embedrec_server import ADMIN, BIN, ROOT, start, upload_file
from report import publish

def rss_peak_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def call(port, method, path, body=None, token=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data) if data else None


def run_size(n, work, user_share):
    shop = work / f"shop{n}"
    subprocess.run([BIN, "generate-shop", "--out", str(shop), "--items", "10000", "--users",
                    str(max(1000, int(n * user_share))), "--interactions", str(n), "--seed", "1"],
                   check=True, capture_output=True)
    csv_path = shop / "interactions.csv"

    # embedrec, fresh data dir per size
    proc, ports = start(work, f"data{n}")
    try:
        port, gw = ports["pipeline"], ports["gateway"]
        hdr = {"Content-Type": "application/json"}
        tenant = call(gw, "POST", "/api/v1/admin/tenants",
                      json.dumps({"name": "Bench", "slug": "bench"}), ADMIN, hdr)
        key = call(gw, "POST", "/api/v1/api-keys",
                   json.dumps({"name": "b", "scopes": ["data:write"], "tenant_id": tenant["id"]}),
                   ADMIN, hdr)["api_key"]
        upload_file(port, "/api/v1/upload/items", key, shop / "items.csv")
        rss_before = rss_peak_kib(proc.pid)
        t0 = time.monotonic()
        res = upload_file(port, "/api/v1/upload/interactions", key, csv_path)
        t_ours = time.monotonic() - t0
        rss = rss_peak_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    rows = res["rows_accepted"] + res["rows_rejected"] + res["duplicates_removed"]

    # sqlite3 .import of the same file into a table of the same columns
    db = work / f"sqlite{n}.db"
    t0 = time.monotonic()
    subprocess.run(["sqlite3", str(db),
                    "CREATE TABLE t(user_id TEXT, item_id TEXT, interaction_type TEXT, "
                    "timestamp TEXT, rating TEXT, duration_seconds TEXT);",
                    f".import --csv --skip 1 {csv_path} t"], check=True)
    t_sqlite = time.monotonic() - t0
    shutil.rmtree(work / f"data{n}", ignore_errors=True)
    db.unlink()
    shutil.rmtree(shop, ignore_errors=True)
    return {"rows": rows, "users": max(1000, int(n * user_share)), "accepted": res["rows_accepted"], "ours_s": t_ours,
            "sqlite_s": t_sqlite, "rss_mib": rss / 1024, "rss_before_mib": rss_before / 1024,
            "file_mib": csv_path.stat().st_size / 2**20 if csv_path.exists() else 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--user-share", type=float, default=0.05)
    args = ap.parse_args()
    if not shutil.which("sqlite3"):
        sys.exit("sqlite3 is missing: scripts/install-deps --bench")
    work = Path(tempfile.mkdtemp(prefix="embedrec-import-bench-"))
    lines = ["| interactions | users generated (all new) | embedrec rows/s (HTTP upload) | sqlite3 .import rows/s | ratio | "
             "embedrec peak RSS before / after the upload (MiB) |", "|---:|---:|---:|---:|---:|---:|"]
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            r = run_size(n, work, args.user_share)
            ours, theirs = r["rows"] / r["ours_s"], r["rows"] / r["sqlite_s"]
            print(f"{n}: embedrec {ours:.0f} rows/s ({r['ours_s']:.1f} s), sqlite3 {theirs:.0f} "
                  f"rows/s ({r['sqlite_s']:.1f} s), peak RSS {r['rss_mib']:.0f} MiB",
                  file=sys.stderr)
            lines.append(f"| {r['rows']} | {r['users']} | {ours:.0f} | {theirs:.0f} | {100 * ours / theirs:.0f}% | "
                         f"{r['rss_before_mib']:.0f} / {r['rss_mib']:.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = "\n".join(lines)
    publish("import", table)


if __name__ == "__main__":
    main()
