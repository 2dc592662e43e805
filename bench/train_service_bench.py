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
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from embedrec_server import BIN, call, peak_rss_mb, start, tenant_key, wait_job
from report import publish

SEED_HYPER = {"embedding_dim": 64, "num_layers": 3, "learning_rate": 0.001, "batch_size": 2048,
              "epochs": 100, "negative_samples": 4}




def run_once(work):
    proc, ports = start(work)
    try:
        gw, ml = ports["gateway"], ports["ml"]
        tenant, key = tenant_key(gw, "sarah", ["data:write", "models:train", "models:read"])
        for kind in ("items", "interactions"):
            call(gw, "POST", f"/api/v1/upload/{kind}", token=key,
                 raw=(work / "shop" / f"{kind}.csv").read_bytes(), ctype="text/csv")
        t0 = time.monotonic()
        job = call(ml, "POST", "/api/v1/train",
                   {"tenant_id": tenant["id"], "model_type": "lightgcn", "hyperparameters": SEED_HYPER},
                   token=key)
        p = wait_job(ml, key, job)
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
        q = wait_job(ml, key, inc)
        inc_wall = time.monotonic() - t1
        # The popularity baseline on the same split, for scale (not deployed).
        base = call(ml, "POST", "/api/v1/train", {"model_type": "popularity", "auto_deploy": False},
                    token=key)
        b = wait_job(ml, key, base)
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
