#!/usr/bin/env python3
"""Uploads on the embedded default against PostgreSQL (issue 18), and what
they cost the tenant's tracking meanwhile.

A generated shop (`--items`, default 100,000; `--users`, default 20,000, ten
interactions each): its items CSV uploaded to a fresh tenant (every item new),
then again (every item an update) while one client tracks views of the same
tenant every 10 ms — an upload holds the tenant's write lock while it writes,
so those events wait for it; then its interactions (every user new), and a
second file of as many rows for the same, now stored users (each row half a
second later), the tracking client running again. Printed per backend and
round: each upload's seconds, the tracking requests made during the catalog's
update and the slowest of them, and the slowest during the second history
upload.
`--before BIN` adds a second binary on PostgreSQL (e.g. a build from before a
change) to the same interleaved rounds.

Usage: bench/pg_upload_bench.py [--items 100000] [--users 20000] [--rounds 2] [--before BIN]
"""
import argparse
import atexit
import csv
import json
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from embedrec_server import ALL_SCOPES, BIN, start, tenant_key, upload_file
from report import publish
import scale_out_bench


def track_until(port, key, stop, latencies):
    """Views of one item by 500 users, one every 10 ms, until `stop`."""
    i = 0
    while not stop.is_set():
        i += 1
        body = json.dumps({"user_id": f"T{i % 500}", "item_id": "PROD_000001", "interaction_type": "view"}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/interactions", data=body, method="POST")
        req.add_header("Authorization", f"Bearer {key}")
        req.add_header("Content-Type", "application/json")
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        latencies.append((time.monotonic() - t0, status))
        time.sleep(0.01)


def later_rows(src, dst):
    """The same rows, each half a second later: new rows of the same users."""
    with open(src, newline="") as f, open(dst, "w", newline="") as g:
        r = csv.DictReader(f)
        w = csv.DictWriter(g, r.fieldnames)
        w.writeheader()
        for row in r:
            ts = row["timestamp"]
            row["timestamp"] = ts[:-1] + ".5Z" if ts.endswith("Z") else str(float(ts) + 0.5)
            w.writerow(row)


def one_run(work, label, binary, extra, shop):
    items_csv = shop / "items.csv"
    proc, ports = start(work, f"{label.replace(' ', '-')}-{secrets.token_hex(3)}", extra, bin=binary)
    try:
        _, key = tenant_key(ports["gateway"], "catalog", ALL_SCOPES, {"auto_create_items": True})
        t0 = time.monotonic()
        first = upload_file(ports["pipeline"], "/api/v1/upload/items", key, items_csv)
        new_s = time.monotonic() - t0
        stop, latencies = threading.Event(), []
        tracker = threading.Thread(target=track_until, args=(ports["gateway"], key, stop, latencies))
        tracker.start()
        time.sleep(0.3)  # a few tracked events before the upload
        t0 = time.monotonic()
        again = upload_file(ports["pipeline"], "/api/v1/upload/items", key, items_csv)
        update_s = time.monotonic() - t0
        stop.set()
        tracker.join()
        assert first["rows_accepted"] == again["rows_accepted"], (first, again)
        took = []
        for name in ("interactions.csv", "later.csv"):
            stop, during = threading.Event(), []
            tracker = threading.Thread(target=track_until, args=(ports["gateway"], key, stop, during))
            tracker.start()
            t0 = time.monotonic()
            up = upload_file(ports["pipeline"], "/api/v1/upload/interactions", key, shop / name)
            took.append(time.monotonic() - t0)
            stop.set()
            tracker.join()
            assert up["rows_accepted"] > 0, up
        worst_history_ms = round(1000 * max(l for l, _ in during), 1)  # during the second
        history_busy = sum(1 for _, s in during if s == 503)  # refused: the lock stayed taken
        return {"run": label, "items": first["rows_accepted"], "new_s": round(new_s, 3), "update_s": round(update_s, 3),
                "history_new_users_s": round(took[0], 3), "history_stored_users_s": round(took[1], 3),
                "worst_tracking_history_ms": worst_history_ms, "tracking_busy_history": history_busy,
                "tracking_errors_history": sum(1 for _, s in during if s >= 300),
                "tracked": len(latencies), "tracking_errors": sum(1 for _, s in latencies if s >= 300),
                "worst_tracking_ms": round(1000 * max(l for l, _ in latencies), 1)}
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100000)
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--before", help="another binary, run on PostgreSQL beside this one")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrec-catalog-"))
    atexit.register(shutil.rmtree, work, True)  # the shops and servers' data
    shop = work / "shop"
    subprocess.run([BIN, "generate-shop", "--out", str(shop), "--items", str(args.items), "--users", str(args.users),
                    "--interactions", str(10 * args.users)], check=True, capture_output=True)
    later_rows(shop / "interactions.csv", shop / "later.csv")
    svc, env = scale_out_bench.services(work)
    runs = [("embedded", BIN, False), ("postgresql", BIN, True)]
    if args.before:
        runs.append(("postgresql, before", args.before, True))
    rows = []
    try:
        for r in range(args.rounds):
            for label, binary, pg in (runs if r % 2 == 0 else runs[::-1]):  # alternating order
                extra = scale_out_bench.scale_env(env, scale_out_bench.fresh_db(env)) if pg else {}
                row = one_run(work, label, binary, extra, shop)
                row["round"] = r + 1
                print(json.dumps(row), flush=True)
                rows.append(row)
    finally:
        subprocess.run([str(Path(__file__).resolve().parents[1] / "scripts" / "local-services"), "stop", str(svc)],
                       capture_output=True)
    lines = ["| round | run | catalog, all new (s) | catalog, all updates (s) | tracked meanwhile | "
             "slowest tracking (ms) | tracking errors | history, new users (s) | history, stored users (s) | "
             "slowest tracking during it (ms) | refused as busy (503) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in rows:
        lines.append(f"| {x['round']} | {x['run']} | {x['new_s']:.2f} | {x['update_s']:.2f} | "
                     f"{x['tracked']} | {x['worst_tracking_ms']:.0f} | {x['tracking_errors']} | "
                     f"{x['history_new_users_s']:.2f} | {x['history_stored_users_s']:.2f} | "
                     f"{x['worst_tracking_history_ms']:.0f} | {x['tracking_busy_history']} |")
    publish("pg_upload", f"{args.items:,} items, {args.users:,} users, {10 * args.users:,} interactions\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
