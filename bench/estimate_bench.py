#!/usr/bin/env python3
"""Training time estimates against the time jobs take (issue 12: within ±30 %
from the first job on), entirely through HTTP.

For each data set a fresh server (a fresh data dir: nothing measured yet, so
the first job of each model type is estimated from the defaults) gets one
tenant, the data set uploaded, then one job per variant in turn, each waited
for. Printed per job: the estimate the POST answered, the job's time from
POST to done, their ratio, and each step's estimate (`estimated_phase_seconds`)
beside what it took (`phase_seconds`).

Data sets: `generate-shop` at two sizes (shop: 10k items, 5k users, 150k rows;
shop-500k: 20k items, 20k users, 500k rows), MovieLens small, gowalla-shop,
electronics (bench/electronics_shop.py, drawn apart from our generator).

Usage: bench/estimate_bench.py [--data shop,movielens,gowalla,shop-500k,electronics]
                               [--variants als,ease,...]
"""
import argparse
import atexit
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from embedrec_server import BIN, ROOT, call, start, tenant_key, upload_file, wait_job
from report import publish
import quality_bench

# The seed's request (customer-journey.md), and each type with its defaults.
SEED = {"model_type": "lightgcn", "hyperparameters": {"embedding_dim": 64, "num_layers": 3, "learning_rate": 0.001,
                                                      "batch_size": 2048, "epochs": 100, "negative_samples": 4}}
VARIANTS = {
    "als": {"model_type": "als"},
    "ease": {"model_type": "ease"},
    "item_knn": {"model_type": "item_knn"},
    "bpr_mf": {"model_type": "bpr_mf"},
    "lightgcn": {"model_type": "lightgcn"},
    "lightgcn-seed": SEED,
    "auto": {"model_type": "auto"},
}


def shop(items, users, interactions):
    def make(work):
        out = work / f"shop-{interactions}"
        subprocess.run([BIN, "generate-shop", "--out", str(out), "--items", str(items), "--users", str(users),
                        "--interactions", str(interactions)], check=True, capture_output=True)
        return out / "items.csv", out / "interactions.csv"
    return make


def movielens(work):
    out = work / "ml"
    subprocess.run([BIN, "convert-movielens", "--in", str(ROOT.parent / "shared/data/movielens-small"),
                    "--out", str(out)], check=True, capture_output=True)
    return out / "items.csv", out / "interactions.csv"


def gowalla(work):
    """quality_bench's gowalla-shop rows (every pair a purchase), written as CSV files."""
    items_csv, rows = quality_bench.data_gowalla(work)
    out = work / "gowalla"
    out.mkdir()
    (out / "items.csv").write_bytes(items_csv)
    (out / "interactions.csv").write_bytes(quality_bench.to_csv(rows))
    return out / "items.csv", out / "interactions.csv"


def electronics(work, seed=1):
    """bench/electronics_shop.py's shop (drawn apart from generate-shop); `electronics:SEED` another."""
    out = work / f"electronics{seed}"
    subprocess.run([sys.executable, str(ROOT / "bench" / "electronics_shop.py"), "--out", str(out),
                    "--seed", str(seed)], check=True, capture_output=True)
    return out / "items.csv", out / "interactions.csv"


RAW = []  # every job's POST answer and final record (bench/out/estimate.json)

DATA = {"shop": shop(10000, 5000, 150000), "shop-500k": shop(20000, 20000, 500000), "movielens": movielens,
        "gowalla": gowalla, "electronics": electronics}


def fmt_steps(estimated, took):
    keys = [k for k in ("loading", "fit", "validation", "refit", "index", "storing")
            if k in estimated or k in took]
    return " ".join(f"{k} {estimated.get(k, 0):.1f}/{took.get(k, 0):.1f}" for k in keys)


def run_dataset(name, work, variants):
    if name.startswith("electronics:"):
        items_csv, interactions_csv = electronics(work, int(name.split(":")[1]))
    else:
        items_csv, interactions_csv = DATA[name](work)
    proc, ports = start(work, f"data-{name}")
    rows = []
    try:
        gw, ml = ports["gateway"], ports["ml"]
        _, key = tenant_key(gw, name.replace(":", "-"), ["data:write", "models:train", "recommendations:read"])
        upload_file(ports["pipeline"], "/api/v1/upload/items", key, items_csv)
        upload_file(ports["pipeline"], "/api/v1/upload/interactions", key, interactions_csv)
        for variant in variants:
            t0 = time.monotonic()
            job = call(ml, "POST", "/api/v1/train", VARIANTS[variant], token=key)
            p = wait_job(ml, key, job, poll_s=0.2)
            took = time.monotonic() - t0
            est = job.get("estimated_duration_seconds", 0)
            if p["status"] != "completed":
                rows.append((variant, est, took, float("nan"), f"{p['status']}: {p.get('error')}"))
                continue
            note = fmt_steps(job.get("estimated_phase_seconds", {}), p.get("phase_seconds", {}))
            note += f"; epochs {p.get('epochs_run')} (best {p.get('best_epoch')})"
            if p.get("chosen_model_type"):
                note += f"; chose {p['chosen_model_type']}"
            rows.append((variant, est, took, est / took if took > 0 else float("nan"), note))
            RAW.append({"data": name, "variant": variant, "posted": job, "finished": p, "took": took})
            print(f"{name} {variant}: estimate {est:.1f} s, took {took:.1f} s ({rows[-1][3]:.2f}×); {note}",
                  flush=True)
        data = p.get("data", {}) if rows else {}
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    return rows, data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="shop,movielens,gowalla,shop-500k")
    ap.add_argument("--variants", default="als,ease,item_knn,bpr_mf,lightgcn,lightgcn-seed,auto")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrec-estimate-"))
    atexit.register(shutil.rmtree, work, True)  # the shops and servers' data
    lines = ["Estimate at POST against POST → done, on a fresh server per data set (the first job of each "
             "type is estimated before anything of it was measured); steps: estimated/took, seconds", ""]
    within = total = 0
    for name in args.data.split(","):
        rows, data = run_dataset(name, work, args.variants.split(","))
        lines += [f"**{name}** ({json.dumps(data)})", "",
                  "| variant | estimate s | took s | ratio | steps (estimated/took) |", "|---|---:|---:|---:|---|"]
        for variant, est, took, ratio, note in rows:
            lines.append(f"| {variant} | {est:.1f} | {took:.1f} | {ratio:.2f} | {note} |")
            total += 1
            within += 0.7 <= ratio <= 1.3
        lines.append("")
    lines.append(f"Within ±30 %: {within} of {total} jobs.")
    publish("estimate", "\n".join(lines))
    (Path(__file__).resolve().parent / "out" / "estimate.json").write_text(json.dumps(RAW, indent=1))


if __name__ == "__main__":
    main()
