#!/usr/bin/env python3
"""Scale-out benchmark (issue 18): the same binary on the embedded default
(SQLite, files) against the scale-out backends (PostgreSQL for control and
tenant data, S3 for files; both on loopback, started by
scripts/local-services), in interleaved rounds with alternating order:

  * import rows/s: a generated shop's interactions CSV uploaded over HTTP;
  * recommendation req/s (wrk, 16 connections) on 1 node and, for the
    scale-out mode, on 2 and 3 nodes at once (one wrk per node, summed),
    warm (after a first, cold pass, reported too, and two warm-up passes);
  * tracking req/s (wrk, 16 connections, a new interaction per request; the
    scale-out nodes also publish every event to Kafka);
  * tracking req/s the same way on 1 node and, scale-out, on 2 and 3 nodes
    (one wrk per node, distinct users per node);
  * recommendation req/s on 1 node with a per-key rate limit set (too high
    to refuse anything): its token bucket in memory (embedded) or in Redis
    (scale-out, EMBEDREC_CACHE_URL), against the same mode without one.

On this 2-core machine more nodes share the same cores: what matters is the
per-request cost against the embedded default (aim: <= 1.3x), shown two ways
for the 1-node passes: the rates' ratio, and the CPU time per request of every
process that serves it (the node; scale-out also PostgreSQL, Kafka's JVM,
Redis and moto), from /proc over the pass.

Usage: bench/scale_out_bench.py [--interactions 200000] [--duration 5] [--rounds 2]
"""
import argparse
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from embedrec_server import ADMIN, ALL_SCOPES, BIN, ROOT, call, start, tenant_key, upload_file, wait_job, wrk
from report import publish


def services(work):
    d = work / "services"
    subprocess.run([str(ROOT / "scripts" / "local-services"), "start", str(d)], check=True, stdout=subprocess.DEVNULL)
    return d, dict(l.split("=", 1) for l in (d / "env").read_text().splitlines() if "=" in l)


def fresh_db(env):
    name = f"bench_{secrets.token_hex(4)}"
    subprocess.run(["psql", env["EMBEDREC_TEST_DATABASE_URL"], "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    return env["EMBEDREC_TEST_DATABASE_URL"].rsplit("/", 1)[0] + "/" + name


def scale_env(env, db):
    return {"EMBEDREC_DATABASE_URL": db, "EMBEDREC_CACHE_URL": env["EMBEDREC_TEST_REDIS_URL"],
            "EMBEDREC_EVENTS_URL": f"kafka://{env['EMBEDREC_TEST_KAFKA_BROKERS']}/bench{secrets.token_hex(3)}",
            "EMBEDREC_BLOB_URL": f"s3://{env['EMBEDREC_TEST_S3_BUCKET']}/{secrets.token_hex(4)}/",
            **{k: env[k] for k in ("EMBEDREC_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")}}


def rec_rps(nodes, key, users, duration, work, tag):
    """Recommendation req/s over `nodes` at once (one wrk each), summed."""
    results = [None] * len(nodes)

    def one(i, ports):
        results[i] = wrk(f"http://127.0.0.1:{ports['gateway']}", 16, duration,
                         {"BENCH_KEY": key, "BENCH_N": str(users), "BENCH_OUT": str(work / f"{tag}{i}.json")})
    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(r["rps"] for r in results), max(r["p99_ms"] for r in results), sum(r["non2xx"] for r in results)


def track_rps(nodes, key, duration, work):
    """Tracking req/s over `nodes` at once (one wrk each, distinct users), summed."""
    results = [None] * len(nodes)

    def one(i, ports):
        out = work / f"track{i}.json"
        subprocess.run(["wrk", "-t2", "-c16", f"-d{duration}s", "-s", str(ROOT / "bench" / "track.lua"),
                        f"http://127.0.0.1:{ports['gateway']}"],
                       env={**os.environ, "BENCH_KEY": key, "BENCH_OUT": str(out), "BENCH_PREFIX": f"N{i}W"},
                       check=True, capture_output=True)
        results[i] = json.loads(out.read_text())
    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (sum(r["requests"] for r in results) / duration, max(r["p99_ms"] for r in results),
            sum(r["non2xx"] for r in results))


def cpu_seconds(pids):
    """User and system CPU seconds of the processes `pids` (those gone count 0)."""
    t = 0
    for p in pids:
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            t += int(f[11]) + int(f[12])
        except OSError:
            pass
    return t / os.sysconf("SC_CLK_TCK")


def serving_pids(procs, mode):
    """The nodes and, in scale-out mode, every process of the services (their
    connections' backends included: PostgreSQL keeps one per connection)."""
    pids = {p.pid for p in procs}
    if mode != "embedded":
        for pattern in ("postgres", "kafka", "redis-server", "moto"):
            out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
            pids |= {int(x) for x in out}
    return pids - {os.getpid()}


def with_cpu(procs, mode, duration, measure):
    """`measure()`'s (req/s, p99, non-2xx) and the CPU µs per request of the serving processes."""
    pids = serving_pids(procs, mode)
    c0 = cpu_seconds(pids)
    rps, p99, non2xx = measure()
    return rps, p99, non2xx, 1e6 * (cpu_seconds(pids) - c0) / max(1.0, rps * duration)


def run_mode(mode, env, shop, args, work, node_counts):
    extra = {} if mode == "embedded" else scale_env(env, fresh_db(env))
    procs = []
    try:
        p, ports = start(work, f"{mode}-{secrets.token_hex(3)}", extra)
        procs.append(p)
        t, key = tenant_key(ports["gateway"], "bench", ALL_SCOPES, {"auto_create_items": True})
        upload_file(ports["pipeline"], "/api/v1/upload/items", key, shop / "items.csv")
        t0 = time.monotonic()
        r = upload_file(ports["pipeline"], "/api/v1/upload/interactions", key, shop / "interactions.csv")
        import_rps = r["rows_accepted"] / (time.monotonic() - t0)
        job = call(ports["ml"], "POST", "/api/v1/train",
                   {"model_type": "als", "hyperparameters": {"embedding_dim": 32, "epochs": 5}}, key)
        done = wait_job(ports["ml"], key, job)
        assert done["status"] == "completed", done
        out = {"import_rps": import_rps}
        nodes = [ports]
        for n in node_counts:
            while len(nodes) < n:
                p2, ports2 = start(work, f"{mode}-{secrets.token_hex(3)}", extra)
                procs.append(p2)
                nodes.append(ports2)
            # The first pass reads each user's state (from PostgreSQL: a round
            # trip or two per user); then warm-up passes until it is all in memory.
            cold = rec_rps(nodes[:n], key, 4000, args.duration, work, f"cold{mode}{n}")
            if n == 1:
                out["rec_cold"] = cold
            for _ in range(2):
                rec_rps(nodes[:n], key, 4000, args.duration, work, f"warm{mode}{n}")
            out[f"rec_{n}"] = with_cpu(procs, mode, args.duration,
                                       lambda: rec_rps(nodes[:n], key, 4000, args.duration, work, f"{mode}{n}"))
        # A rate limit on the key: every request takes a token (memory or Redis).
        call(ports["gateway"], "PATCH", f"/api/v1/admin/tenants/{t['id']}",
             {"settings": {"auto_create_items": True, "rate_limit": {"requests_per_second": 1e6, "burst": 1e7}}},
             ADMIN)
        rec_rps(nodes[:1], key, 4000, args.duration, work, f"warmlim{mode}")
        out["rec_limited"] = rec_rps(nodes[:1], key, 4000, args.duration, work, f"lim{mode}")
        call(ports["gateway"], "PATCH", f"/api/v1/admin/tenants/{t['id']}",
             {"settings": {"auto_create_items": True, "rate_limit": None}}, ADMIN)
        for n in node_counts:
            out["track" if n == 1 else f"track_{n}"] = with_cpu(procs, mode, args.duration,
                                                                lambda: track_rps(nodes[:n], key, args.duration, work))
        return out
    finally:
        for p in procs:
            p.terminate()
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--interactions", type=int, default=200000)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--nodes", type=int, default=3, help="the most scale-out nodes measured at once (1-3)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrec-scale-out-"))
    sdir, env = services(work)
    try:
        shop = work / "shop"
        subprocess.run([BIN, "generate-shop", "--out", str(shop), "--items", "10000", "--users", "5000",
                        "--interactions", str(args.interactions), "--seed", "1"], check=True, capture_output=True)
        runs = {"embedded": [], "scale-out": []}
        for rnd in range(args.rounds):
            order = ["embedded", "scale-out"] if rnd % 2 == 0 else ["scale-out", "embedded"]
            for mode in order:
                runs[mode].append(run_mode(mode, env, shop, args, work, [1] if mode == "embedded" else list(range(1, args.nodes + 1))))
        med = lambda xs: sorted(xs)[len(xs) // 2]
        e, s = runs["embedded"], runs["scale-out"]
        lines = [f"Scale-out vs embedded (bench/scale_out_bench.py, {args.rounds} interleaved rounds, medians; "
                 f"shop of {args.interactions} interactions, 10K items, 5K users; wrk -t2 -c16 -d{args.duration}s per node; "
                 "PostgreSQL 15, Redis, Kafka and moto on the same 2 cores)", "",
                 "| measure | embedded | scale-out (PostgreSQL + S3 + Redis + Kafka) | ratio |", "|---|---|---|---|"]
        ei, si = med([r["import_rps"] for r in e]), med([r["import_rps"] for r in s])
        lines.append(f"| import rows/s | {ei:,.0f} | {si:,.0f} | {ei / si:.2f}x slower |")
        ec, sc = med([r["rec_cold"][0] for r in e]), med([r["rec_cold"][0] for r in s])
        lines.append(f"| recommendations req/s, 1 node, first pass (users' state read) | {ec:,.0f} | {sc:,.0f} | "
                     f"{ec / sc:.2f}x cost |")
        er = med([r["rec_1"][0] for r in e])
        counts = range(1, args.nodes + 1)
        for n in counts:
            sr = med([r[f"rec_{n}"][0] for r in s])
            p99 = med([r[f"rec_{n}"][1] for r in s])
            lines.append(f"| recommendations req/s, {n} node{'s' if n > 1 else ''} | "
                         f"{er:,.0f} (p99 {med([r['rec_1'][1] for r in e]):.1f} ms) | {sr:,.0f} (p99 {p99:.1f} ms) | "
                         f"{er / sr:.2f}x cost |")
        el, sl = med([r["rec_limited"][0] for r in e]), med([r["rec_limited"][0] for r in s])
        lines.append(f"| recommendations req/s, 1 node, per-key rate limit (memory / Redis) | {el:,.0f} "
                     f"({el / er:.2f}x of without) | {sl:,.0f} ({sl / med([r['rec_1'][0] for r in s]):.2f}x of "
                     f"without) | {el / sl:.2f}x cost |")
        et, st = med([r["track"][0] for r in e]), med([r["track"][0] for r in s])
        lines.append(f"| tracking req/s, 1 node (scale-out: events also published to Kafka) | {et:,.0f} | {st:,.0f} | "
                     f"{et / st:.2f}x cost |")
        for n in counts[1:]:
            stn = med([r[f"track_{n}"][0] for r in s])
            lines.append(f"| tracking req/s, {n} nodes (scale-out) | {et:,.0f} (1 node) | {stn:,.0f} "
                         f"(p99 {med([r[f'track_{n}'][1] for r in s]):.1f} ms) | {et / stn:.2f}x cost |")
        for name, label in (("rec_1", "recommendations"), ("track", "tracking")):
            ec, sc = med([r[name][3] for r in e]), med([r[name][3] for r in s])
            lines.append(f"| {label}, 1 node: CPU µs per request of every serving process | {ec:.0f} | {sc:.0f} | "
                         f"{sc / ec:.2f}x cost |")
        errors = sum(r["rec_1"][2] + r["rec_limited"][2] + r["track"][2] for r in e + s)
        errors += sum(r[f"track_{n}"][2] for r in s for n in counts[1:])
        lines.append("")
        lines.append(f"non-2xx answers over all runs: {errors}")
        publish("scale_out", "\n".join(lines))
    finally:
        subprocess.run([str(ROOT / "scripts" / "local-services"), "stop", str(sdir)], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
