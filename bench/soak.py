"""Soak (issue 19): the real server under a mixed load — recommendations,
similar items, tracked views (bench/recommend.lua, BENCH_KIND=mix) — at 80 % of the maximum that
same mix reached, for 10 minutes, with an upload of interactions and a
training job during it. The load is offered by a schedule (requests due at
the target rate whatever the answers take; `--pacing delay` for the fixed
wait per request of the soaks before, whose rate fell as latency rose).
Recorded per 10-second slice: requests/s, p50,
p99, errors, and the server's resident memory (sampled every second).
Passes when no request failed, RSS does not grow after warm-up (the last
half's mean at most 10 % above the first half's, both after warm-up; judged on
the whole RSS and on its private part, without the file pages SQLite maps; a
fall — the training job's memory returned — is not growth; `rss_within_10pc`
says whether the halves are also within 10 % both ways) and p99 stable (no
slice after warm-up above 3x the median slice's).

  python3 bench/soak.py [--minutes 10] [--connections 16] [--plot docs/soak.png]

The shop: generate-shop, 10,000 items, 5,000 users, 150,000 interactions,
a trained LightGCN model, the result cache off (every recommendation
ranked). Writes bench/out/soak.json; the PNG (matplotlib, installed in a
virtual environment under bench/out) when --plot is given.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from embedrec_server import BIN, ROOT, call, start, tenant_key, upload_file, wrk

SLICE_S = 10


def rss_mb(pid, field="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_parts_mb(pid):
    """The RSS split as the kernel counts it: private (anonymous) memory,
    file pages mapped (SQLite's memory-mapped reads: page cache the kernel
    reclaims at will) and shared memory (SQLite's WAL index)."""
    return {k: rss_mb(pid, k) for k in ("RssAnon", "RssFile", "RssShmem")}


def wrk_slice(url, connections, seconds, env, out):
    return wrk(url, connections, seconds, {**env, "BENCH_OUT": str(out)})


MEMORY_METRICS = ("embedrec_serving_resident_bytes", "embedrec_activity_resident_bytes",
                  "embedrec_heap_allocated_bytes", "embedrec_heap_resident_bytes")
RSS_PARTS = ("RssAnon", "RssFile", "RssShmem")


def memory_metrics(port):
    """The server's own memory figures from /metrics, in MiB (as the RSS is)."""
    import urllib.request
    from embedrec_server import ADMIN
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    out = {}
    for line in urllib.request.urlopen(req, timeout=10).read().decode().splitlines():
        name, _, value = line.partition(" ")
        if name in MEMORY_METRICS:
            out[name] = float(value) / 2**20
    return out


def plot(data, path):
    venv = ROOT / "bench" / "out" / "plot-venv"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "matplotlib==3.9.2"], check=True)
    script = f"""
import json, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
r = json.load(open({str(data)!r}))
s = r["slices"]; t = [x["t_s"] / 60 for x in s]
fig, ax = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
ax[0].plot(t, [x["rps"] for x in s]); ax[0].set_ylabel("requests/s")
ax[0].axhline(r["target_rps"], ls="--", c="grey", label="target (80 % of max)"); ax[0].legend(loc="lower right")
ax[1].plot(t, [x["p50_ms"] for x in s], label="p50"); ax[1].plot(t, [x["p99_ms"] for x in s], label="p99")
ax[1].set_ylabel("latency (ms)"); ax[1].legend(loc="upper right")
rss = r["rss"]; ax[2].plot([x[0] / 60 for x in rss], [x[1] for x in rss], label="RSS")
m = r.get("memory", [])
for k, lbl in (("RssAnon", "RSS, private"), ("RssFile", "RSS, mapped files"),
               ("embedrec_heap_allocated_bytes", "heap, live"), ("embedrec_serving_resident_bytes", "serving state (estimate)"),
               ("embedrec_activity_resident_bytes", "profiles, popularity (estimate)")):
    if m and k in m[0]: ax[2].plot([x["t_s"] / 60 for x in m], [x.get(k, 0) for x in m], label=lbl)
ax[2].set_ylabel("memory (MiB)"); ax[2].legend(loc="upper left", fontsize=8)
for e in r["events"]:
    for a in ax: a.axvline(e["t_s"] / 60, c="red", alpha=0.3)
    ax[0].annotate(e["what"], (e["t_s"] / 60, ax[0].get_ylim()[1]), fontsize=8, rotation=90, va="top")
ax[2].set_xlabel("minutes")
fig.suptitle("embedrec soak: mixed load at 80 % of the measured maximum")
fig.tight_layout(); fig.savefig({str(path)!r}, dpi=90)
"""
    subprocess.run([str(py), "-c", script], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--plot", default="")
    ap.add_argument("--visitors", type=int, default=0,
                    help="tracked views from this many visitors (mostly new users) instead of the shop's 5,000")
    ap.add_argument("--out", default="soak.json", help="file name under bench/out")
    ap.add_argument("--pacing", choices=["schedule", "delay"], default="schedule",
                    help="schedule: requests due at the target rate whatever the answers take (an open-loop "
                         "arrival rate); delay: each connection waits a fixed time before each request "
                         "(the rate falls when latency rises; the soaks before 2026-12-06's thirty-eighth session)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrec-soak-"))
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(exist_ok=True)
    subprocess.run([BIN, "generate-shop", "--out", str(work / "shop"), "--items", "10000", "--users", "5000",
                    "--interactions", "150000"], check=True, capture_output=True)
    subprocess.run([BIN, "generate-shop", "--out", str(work / "more"), "--items", "10000", "--users", "5000",
                    "--interactions", "50000", "--seed", "7"], check=True, capture_output=True)
    proc, ports = start(work)
    gw, ml, pipe = ports["gateway"], ports["ml"], ports["pipeline"]
    try:
        _, key = tenant_key(gw, "soak", ["data:write", "models:train", "recommendations:read", "interactions:write"],
                            {"cache_ttl_seconds": 0})
        for kind in ("items", "interactions"):
            upload_file(pipe, f"/api/v1/upload/{kind}", key, work / "shop" / f"{kind}.csv")
        job = call(ml, "POST", "/api/v1/train", {"model_type": "lightgcn", "hyperparameters": {"epochs": 20}}, token=key)
        while call(ml, "GET", job["progress_url"], token=key)["status"] not in ("completed", "failed"):
            time.sleep(0.2)
        env = {"BENCH_KEY": key, "BENCH_KIND": "mix", "BENCH_N": "5000", "BENCH_ITEMS": "10000",
               "BENCH_VISITORS": str(args.visitors)}
        url = f"http://127.0.0.1:{gw}"
        wrk_slice(url, args.connections, 10, env, work / "warm.json")  # warm-up
        peak = wrk_slice(url, args.connections, 20, env, work / "max.json")
        target = 0.8 * peak["rps"]
        if args.pacing == "schedule":
            # Offered at the target rate by a schedule (bench/recommend.lua's BENCH_RATE).
            pace = {"BENCH_RATE": f"{target:.1f}", "BENCH_THREADS": "2"}
            how = "paced by a schedule"
        else:
            # Each connection waits before each request, so that
            # connections / (delay + latency) is the target at the maximum's p50.
            delay_ms = max(0.0, 1000 * args.connections / target - peak["p50_ms"])
            pace = {"BENCH_DELAY_MS": f"{delay_ms:.3f}"}
            how = f"delay {delay_ms:.2f} ms per request per connection"
        print(f"maximum {peak['rps']:.0f} req/s (p99 {peak['p99_ms']:.2f} ms); target {target:.0f} req/s, {how}",
              flush=True)

        rss, events, slices, mem = [], [], [], []
        stop = threading.Event()
        t0 = time.monotonic()

        def sample():
            i = 0
            while not stop.is_set():
                rss.append((time.monotonic() - t0, rss_mb(proc.pid)))
                if i % 5 == 0:  # what the server accounts for, every 5 s
                    mem.append({"t_s": time.monotonic() - t0, **memory_metrics(gw), **rss_parts_mb(proc.pid)})
                i += 1
                stop.wait(1)

        def background():
            try:
                upload_then_train()
            except Exception as e:  # the soak fails: its background work is part of what it holds
                body = e.read().decode(errors="replace")[:500] if hasattr(e, "read") else ""
                events.append({"t_s": time.monotonic() - t0, "what": "failed", "error": f"{e} {body}"})
                print(f"background work failed: {e} {body}", flush=True)

        def upload_then_train():
            # An upload at 20 % of the run and a training job at 45 %.
            stop.wait(args.minutes * 60 * 0.2)
            if stop.is_set():
                return
            events.append({"t_s": time.monotonic() - t0, "what": "upload 50K rows"})
            upload_file(pipe, "/api/v1/upload/interactions", key, work / "more" / "interactions.csv")
            events[-1]["seconds"] = time.monotonic() - t0 - events[-1]["t_s"]
            stop.wait(max(0.0, args.minutes * 60 * 0.45 - (time.monotonic() - t0)))
            if stop.is_set():
                return
            events.append({"t_s": time.monotonic() - t0, "what": "training job"})
            j = call(ml, "POST", "/api/v1/train", {"model_type": "lightgcn", "hyperparameters": {"epochs": 20}},
                     token=key)
            while call(ml, "GET", j["progress_url"], token=key)["status"] not in ("completed", "failed", "cancelled"):
                time.sleep(0.5)
            events[-1]["seconds"] = time.monotonic() - t0 - events[-1]["t_s"]

        threads = [threading.Thread(target=sample, daemon=True), threading.Thread(target=background, daemon=True)]
        for t in threads:
            t.start()
        n = int(args.minutes * 60 / SLICE_S)
        for i in range(n):
            r = wrk_slice(url, args.connections, SLICE_S, {**env, **pace}, work / "slice.json")
            r["t_s"] = time.monotonic() - t0
            slices.append(r)
            print(f"{r['t_s']:6.0f} s: {r['rps']:7.0f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
                  f"errors {r['non2xx'] + r['socket_errors']}  rss {rss[-1][1] if rss else 0:.0f} MB", flush=True)
        stop.set()
        for t in threads:
            t.join(timeout=600)
        warm = n // 3
        errors = sum(s["non2xx"] + s["socket_errors"] for s in slices)
        rss_after = [m for t, m in rss if t >= slices[warm - 1]["t_s"]]
        thirds = len(rss_after) // 2
        second, last = statistics.mean(rss_after[:thirds]), statistics.mean(rss_after[thirds:])
        p99s = [s["p99_ms"] for s in slices[warm:]]
        # The same halves of the server's own figures: does the RSS move with
        # what it accounts for (state) or apart from it?
        mem_after = [m for m in mem if m["t_s"] >= slices[warm - 1]["t_s"]]
        half = len(mem_after) // 2
        halves = {k: [statistics.mean(m.get(k, 0) for m in part) for part in (mem_after[:half], mem_after[half:])]
                  for k in MEMORY_METRICS + RSS_PARTS} if half else {}
        result = {
            "minutes": args.minutes, "connections": args.connections, "max_rps": peak["rps"],
            "max_p99_ms": peak["p99_ms"], "target_rps": target, "pacing": args.pacing,
            "mean_rps": statistics.mean(s["rps"] for s in slices), "errors": errors,
            "requests": sum(s["requests"] for s in slices),
            "rss_mb": {"after_warmup_first_half": second, "last_half": last, "max": max(m for _, m in rss)},
            "memory_mb_halves": halves,
            "p99_ms": {"median_slice": statistics.median(p99s), "max_slice": max(p99s)},
            "events": events, "slices": slices, "rss": rss, "memory": mem, "visitors": args.visitors,
        }
        anon = halves.get("RssAnon", [0, 0])
        result["rss_within_10pc"] = abs(last - second) <= 0.10 * second
        result["pass"] = {"zero_errors": errors == 0,
                          "background_work_done": not any(e["what"] == "failed" for e in events),
                          # a leak grows; memory returned (the job's) is not one
                          "rss_not_growing": last <= 1.10 * second,
                          # private memory: the RSS without the file pages SQLite maps
                          "private_rss_not_growing": bool(anon[0]) and anon[1] <= 1.10 * anon[0],
                          "p99_stable": max(p99s) <= 3 * statistics.median(p99s)}
        (out_dir / args.out).write_text(json.dumps(result))
        print(json.dumps({k: v for k, v in result.items() if k not in ("slices", "rss", "memory")}, indent=1))
        if args.plot:
            plot(out_dir / args.out, ROOT / args.plot if not os.path.isabs(args.plot) else Path(args.plot))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
