"""Soak (issue 19): the real server under a mixed load — recommendations,
similar items, tracked views (bench/recommend.lua, BENCH_KIND=mix) — at 80 % of the maximum that
same mix reached, for 10 minutes, with an upload of interactions and a
training job during it. The load is offered by a schedule (requests due at
the target rate whatever the answers take; `--pacing delay` for the fixed
wait per request of the soaks before, whose rate fell as latency rose).
The load runs at least the minutes asked, then on until the job has been
done for a minute (at most 5 minutes more: a job at idle priority steps
aside while requests wait, so under this load it takes longer).
Recorded per 10-second slice: requests/s, p50,
p99, errors, the server's resident memory (sampled every second) and
where the CPU went (the server's threads by class: serving, niced
background work, the SCHED_IDLE job; the load generator; idle; steal).
Passes when no request failed, RSS does not grow after warm-up (the last
half's mean at most 10 % above the first half's, both after warm-up; judged on
the whole RSS and on its private part, without the file pages SQLite maps; a
fall — the training job's memory returned — is not growth; `rss_within_10pc`
says whether the halves are also within 10 % both ways) and p99 stable (no
slice after warm-up above 3x the median slice's). Warm-up: the first third
of the minutes asked (the upload, at 2 minutes, falls in it).

  python3 bench/soak.py [--minutes 10] [--connections 16] [--plot docs/soak.png]

EMBEDREC_BENCH_LOG=1 keeps the server's log (at info) in bench/out/soak-server.log.

The shop: generate-shop, 10,000 items, 5,000 users, 150,000 interactions,
a trained LightGCN model, the result cache off (every recommendation
ranked). Writes bench/out/soak.json; the PNG (matplotlib, installed in a
virtual environment under bench/out) when --plot is given.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from embedrec_server import BIN, ROOT, call, rss_mb, start, tenant_key, upload_file, wrk

SLICE_S = 10
AFTER_JOB_S = 60
MAX_EXTRA_S = 300


def rss_parts_mb(pid):
    """The RSS split as the kernel counts it: private (anonymous) memory,
    file pages mapped (SQLite's memory-mapped reads: page cache the kernel
    reclaims at will) and shared memory (SQLite's WAL index)."""
    return {k: rss_mb(pid, k) for k in ("RssAnon", "RssFile", "RssShmem")}


SCHED_IDLE = 5
CLK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """The server's CPU seconds so far, by class of thread: `idle`
    (SCHED_IDLE: the training jobs), `niced` (nice > 0: the logs' writers,
    analytics) and `normal` (serving); `process` is the whole process's,
    which keeps the time of threads that have exited."""
    out = {"idle": 0.0, "niced": 0.0, "normal": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            f = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        # fields after the name: state is [0]; utime [11], stime [12], nice [16], policy [38]
        cpu = (int(f[11]) + int(f[12])) / CLK
        cls = "idle" if int(f[38]) == SCHED_IDLE else "niced" if int(f[16]) > 0 else "normal"
        out[cls] += cpu
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    out["process"] = (int(f[11]) + int(f[12])) / CLK
    return out


def machine_cpu():
    """The machine's CPU seconds so far (all cores): idle, steal and all."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = f[:8]
    return {"busy": (user + nice + system + irq + softirq) / CLK, "idle": (idle + iowait) / CLK, "steal": steal / CLK}


def cpu_now(pid):
    r = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once each slice's run has been waited for
    return {"server": thread_cpu(pid), "machine": machine_cpu(), "load": r.ru_utime + r.ru_stime}


def cpu_delta(a, b):
    """CPU seconds used between two cpu_now() readings, by where they went."""
    return {"server_" + k: round(b["server"][k] - a["server"].get(k, 0), 2) for k in b["server"]} | {
        "machine_" + k: round(b["machine"][k] - a["machine"][k], 2) for k in b["machine"]} | {
        "load_generator": round(b["load"] - a["load"], 2)}


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
        cpu = cpu_now(proc.pid)

        def job_done_at():  # also when the background work failed: nothing to wait for
            if any(e["what"] == "failed" for e in events):
                return 0.0
            job = [e for e in events if e["what"] == "training job"]
            return job[0]["t_s"] + job[0]["seconds"] if job and "seconds" in job[0] else None

        # At least `--minutes`; then on until the training job has been done
        # for AFTER_JOB_S (a job at idle priority slows under this load: the
        # RSS halves and the windows judge the server after it too), at most
        # MAX_EXTRA_S more.
        i = 0
        while True:
            done = job_done_at()
            late = time.monotonic() - t0
            if i >= n and ((done is not None and late - done >= AFTER_JOB_S) or late >= args.minutes * 60 + MAX_EXTRA_S):
                break
            i += 1
            r = wrk_slice(url, args.connections, SLICE_S, {**env, **pace}, work / "slice.json")
            r["t_s"] = time.monotonic() - t0
            now = cpu_now(proc.pid)
            r["cpu_s"] = cpu_delta(cpu, now)  # where the slice's CPU went
            cpu = now
            slices.append(r)
            c = r["cpu_s"]
            print(f"{r['t_s']:6.0f} s: {r['rps']:7.0f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
                  f"errors {r['non2xx'] + r['socket_errors']}  rss {rss[-1][1] if rss else 0:.0f} MB  "
                  f"cpu-s serving {c['server_normal']:.1f} bg {c['server_niced']:.1f} job {c['server_idle']:.1f} "
                  f"wrk {c['load_generator']:.1f} idle {c['machine_idle']:.1f} steal {c['machine_steal']:.1f}",
                  flush=True)
        stop.set()
        for t in threads:
            t.join(timeout=600)
        n = len(slices)
        # Warm-up: the first third of the minutes asked (not of the run, which
        # goes on past them while the job runs: a third of that hid five
        # minutes, and a 0.8 s stall in them, from the p99 check).
        warm = max(1, sum(1 for s in slices if s["t_s"] <= args.minutes * 60 / 3))
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
            "minutes": args.minutes, "minutes_run": (time.monotonic() - t0) / 60,
            "connections": args.connections, "max_rps": peak["rps"],
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
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still flushing its analytics: the data goes anyway
            proc.kill()
            proc.wait()
        if (work / "data.log").exists():  # EMBEDREC_BENCH_LOG=1: the server's log, kept beside the results
            shutil.copy(work / "data.log", out_dir / "soak-server.log")
        shutil.rmtree(work, ignore_errors=True)  # the server's data: GBs after 10 minutes


if __name__ == "__main__":
    main()
