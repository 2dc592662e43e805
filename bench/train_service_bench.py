#!/usr/bin/env python3
"""Sarah-scale training through the service (issue 5): a generated shop of
10,000 items, 5,000 users and 150,000 interactions is uploaded, then
POST /api/v1/train with the seed's hyperparameters (64 dims, 3 layers,
lr 0.001, batch 2048, 100 epochs, 4 negatives). Measures the wall time from
the POST to the model being deployed, the job's own phases, the server's
peak memory and the final metrics; also the estimate the POST answered with.

Usage: bench/train_service_bench.py [--rounds 1]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from report import publish

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("EMBEDREC_BIN", str(ROOT / "build" / "embedrec"))
ADMIN = "bench-admin-token-0123456789"
SEED_HYPER = {"embedding_dim": 64, "num_layers": 3, "learning_rate": 0.001, "batch_size": 2048,
              "epochs": 100, "negative_samples": 4}


def call(port, method, path, body=None, token=None, raw=None, ctype="application/json"):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data)
    req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def peak_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_once(work):
    port_file = work / "ports.json"
    port_file.unlink(missing_ok=True)
    env = dict(os.environ, EMBEDREC_DATA_DIR=str(work / "data"), EMBEDREC_ADMIN_TOKEN=ADMIN,
               EMBEDREC_GATEWAY_PORT="0", EMBEDREC_ML_PORT="0", EMBEDREC_PIPELINE_PORT="0",
               EMBEDREC_PORT_FILE=str(port_file), EMBEDREC_LOG_LEVEL="warn")
    proc = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip().endswith("}")):
            if time.monotonic() > deadline:
                sys.exit("embedrec did not start")
            time.sleep(0.05)
        ports = json.loads(port_file.read_text())
        gw, ml = ports["gateway"], ports["ml"]
        tenant = call(gw, "POST", "/api/v1/admin/tenants", {"name": "Sarah", "slug": "sarah"}, ADMIN)
        key = call(gw, "POST", "/api/v1/api-keys",
                   {"name": "k", "scopes": ["data:write", "models:train", "models:read"],
                    "tenant_id": tenant["id"]}, ADMIN)["api_key"]
        for kind in ("items", "interactions"):
            call(gw, "POST", f"/api/v1/upload/{kind}", token=key,
                 raw=(work / "shop" / f"{kind}.csv").read_bytes(), ctype="text/csv")
        t0 = time.monotonic()
        job = call(ml, "POST", "/api/v1/train",
                   {"tenant_id": tenant["id"], "model_type": "lightgcn", "hyperparameters": SEED_HYPER},
                   token=key)
        while True:
            p = call(ml, "GET", job["progress_url"], token=key)
            if p["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.05)  # polling interval of the measurement, not a synchronisation
        wall = time.monotonic() - t0
        if p["status"] != "completed":
            sys.exit(f"job ended {p['status']}: {p.get('error')}")
        rss = peak_rss_mb(proc.pid)
        # An incremental run from the deployed model (defaults: 10 epochs, a tenth of the rate).
        t1 = time.monotonic()
        inc = call(ml, "POST", "/api/v1/train",
                   {"training_mode": "incremental", "hyperparameters": {
                       k: v for k, v in SEED_HYPER.items() if k not in ("epochs", "learning_rate")}},
                   token=key)
        while True:
            q = call(ml, "GET", inc["progress_url"], token=key)
            if q["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.05)
        inc_wall = time.monotonic() - t1
        # The popularity baseline on the same split, for scale (not deployed).
        base = call(ml, "POST", "/api/v1/train", {"model_type": "popularity", "auto_deploy": False},
                    token=key)
        while True:
            b = call(ml, "GET", base["progress_url"], token=key)
            if b["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.05)
        return {"wall": wall, "progress": p, "estimate_s": job["estimated_duration_seconds"],
                "rss": rss, "popularity": b.get("final_metrics", {}), "incremental": q,
                "incremental_wall": inc_wall}
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrec-train-service-bench-"))
    try:
        subprocess.run([BIN, "generate-shop", "--out", str(work / "shop"), "--items", "10000",
                        "--users", "5000", "--interactions", "150000"], check=True,
                       capture_output=True)
        rows = []
        for r in range(args.rounds):
            shutil.rmtree(work / "data", ignore_errors=True)
            rows.append(run_once(work))
        lines = ["Sarah-scale: generate-shop 10,000 items, 5,000 users, 150,000 interactions; "
                 "POST /api/v1/train with the seed's hyperparameters " + json.dumps(SEED_HYPER),
                 "",
                 "| round | POST → deployed (s) | training (s) | epochs run | s/epoch (with validations) | estimate at POST (s) "
                 "| peak RSS (MB) | ndcg@10 | recall@20 | precision@10 | status |",
                 "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for i, r in enumerate(rows, 1):
            p = r["progress"]
            fm = p["final_metrics"]
            lines.append(f"| {i} | {r['wall']:.1f} | {p['training_duration_seconds']:.1f} | "
                         f"{p['epochs_run']} | {p['seconds_per_epoch']:.3f} | {r['estimate_s']:.1f} | "
                         f"{r['rss']:.0f} | {fm['ndcg@10']:.4f} | {fm['recall@20']:.4f} | "
                         f"{fm['precision@10']:.4f} | {p['deployment_status']} |")
        for i, r in enumerate(rows, 1):
            q = r["incremental"]
            if q["status"] != "completed":
                lines.append(f"| {i} incremental | {q['status']}: {q.get('error')} |")
                continue
            fm = q["final_metrics"]
            lines.append(f"| {i} incremental ({q['model_version']}) | {r['incremental_wall']:.1f} | "
                         f"{q['training_duration_seconds']:.1f} | {q['epochs_run']} | "
                         f"{q['seconds_per_epoch']:.3f} | | | {fm['ndcg@10']:.4f} | "
                         f"{fm['recall@20']:.4f} | {fm['precision@10']:.4f} | {q['deployment_status']} |")
        pop = rows[-1]["popularity"]
        if pop:
            lines.append(f"| popularity (same split) | | | | | | | {pop['ndcg@10']:.4f} | "
                         f"{pop['recall@20']:.4f} | {pop['precision@10']:.4f} | standby |")
        d = rows[-1]["progress"]["data"]
        lines += ["", f"data after the split: {d['users']} users, {d['items']} items, "
                      f"{d['training_pairs']} training pairs, {d['validation_pairs']} validation pairs "
                      f"({d['interactions']} interactions with a positive weight)"]
        publish("train_service", "\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
