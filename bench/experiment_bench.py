"""Issue 16: what a running experiment costs on the hot path.

A/B in one run: a generated Sarah-sized shop (10,000 items, 5,000 users,
150,000 rows) with two ALS versions (the second trained with auto_deploy
false), in two copies of one data directory:
  on:  an experiment runs (created once: traffic_share 0.5, a min_sample it
       never reaches, so no decision during the bench)
  off: no experiment (the deployed version answers everybody)
Interleaved rounds (which goes first alternates), each starting the same
binary on its data directory (both arms start cold alike), measured by wrk
(bench/recommend.lua, 8 connections, users spread over all 5,000) for
`duration` seconds after 5 s of warm-up. With an experiment
every answer is assigned, logged with its arm and summed per user in
analytics. Aim: <= 5 % fewer req/s.

Usage: python3 bench/experiment_bench.py [--work DIR] [--rounds 4] [--duration 10]
"""
import argparse
import json
import shutil
import statistics
from pathlib import Path

from embedrec_server import ALL_SCOPES, call, generated_shop_tenant, start, wait_job, wrk

SCOPES = ALL_SCOPES


def prepare(work):
    """The shop uploaded, two versions trained; returns (key, challenger version)."""
    meta = work / "tenant.json"
    if meta.exists():
        m = json.loads(meta.read_text())
        return m["key"], m["challenger"]
    proc, ports = start(work)
    try:
        _, key = generated_shop_tenant(work, ports, "sarah", SCOPES)
        first = wait_job(ports["ml"], key, call(ports["ml"], "POST", "/api/v1/train", {"model_type": "als"}, token=key))
        second = wait_job(ports["ml"], key, call(ports["ml"], "POST", "/api/v1/train",
                                                 {"model_type": "als", "auto_deploy": False,
                                                  "hyperparameters": {"epochs": 10}}, token=key))
        assert first["deployment_status"] == "deployed" and second["deployment_status"] == "standby"
    finally:
        proc.terminate()
        proc.wait()
    meta.write_text(json.dumps({"key": key, "challenger": second["model_version"]}))
    return key, second["model_version"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=str(Path(__file__).parent / "out" / "experiment_bench"))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=int, default=10)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    key, challenger = prepare(work)
    # The "on" copy: the same data with an experiment running.
    if not (work / "data_on").exists():
        shutil.copytree(work / "data", work / "data_on")
        proc, ports = start(work, name="data_on")
        try:
            call(ports["ml"], "POST", "/api/v1/experiments",
                 {"name": "bench", "challenger": challenger, "traffic_share": 0.5, "min_sample": 1_000_000_000,
                  "max_duration_days": 365}, token=key)
        finally:
            proc.terminate()
            proc.wait()
    rows = []
    env = {"BENCH_KEY": key, "BENCH_N": "5000", "BENCH_KIND": "recommend", "BENCH_OUT": str(work / "wrk.json")}
    for r in range(args.rounds):
        for mode in (("on", "off") if r % 2 == 0 else ("off", "on")):
            proc, ports = start(work, name="data_on" if mode == "on" else "data")
            try:
                gw = f"http://127.0.0.1:{ports['gateway']}"
                probe = call(ports["gateway"], "POST", "/api/v1/recommendations", {"user_id": "USER_000001"},
                             token=key)
                assert (probe["metadata"]["experiment_id"] is not None) == (mode == "on"), probe["metadata"]
                wrk(gw, 8, 5, env)
                res = wrk(gw, 8, args.duration, env)
            finally:
                proc.terminate()
                proc.wait()
            row = {"round": r + 1, "experiment": mode == "on", "rps": round(res["rps"]),
                   "p50_ms": round(res["p50_ms"], 2), "p99_ms": round(res["p99_ms"], 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    on = statistics.median(x["rps"] for x in rows if x["experiment"])
    off = statistics.median(x["rps"] for x in rows if not x["experiment"])
    print(json.dumps({"median_rps": {"experiment": on, "none": off}, "loss_percent": round(100 * (1 - on / off), 1)}))


if __name__ == "__main__":
    main()
