#!/usr/bin/env python3
"""Similar items ("customers who viewed this also viewed"), through HTTP:
does the list of the item a user last looked at hold the item they turned
to next?

For a sample of users (20 %, at least 400, each with 3 distinct items or
more), the item of their newest event is withheld (every row of the user
with it, as bench/quality_bench.py withholds); the anchor is the item of
their newest event left. After the upload and a training job per variant,
`POST /api/v1/recommendations/similar {"item_id": anchor, "count": 20}`:
hit@10 and hit@20 of the withheld item. Offline rows for reference:
co-occurrence (the items most often had by the users who had the anchor,
counted on the upload) and the anchor's category's bestsellers.

Usage: bench/similar_bench.py [--data electronics:3,shop,movielens,gowalla]
                              [--variants ease,item_knn,als,lightgcn,auto]
Variants are model types or bench/quality_bench.py's named requests
(lightgcn-softmax1024, blend-als-ease, …). EMBEDREC_BIN picks the binary.
More rows per variant: SIMILAR_BENCH_SAMECAT=1 (the similar items filtered to
the anchor's category), SIMILAR_BENCH_MIX=1 (the served list mixed with the
category's bestsellers at 0.25 / 0.5 / 0.75 of the slots), SIMILAR_BENCH_CURRENT=1
(a new visitor's recommendations with the anchor as context.current_item).
"""
import argparse
import atexit
import os
import random
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from embedrec_server import ALL_SCOPES, call, start, tenant_key, wait_job
from quality_bench import VARIANT_REQUESTS, epoch_seconds, load_csv_bytes, load_dataset, to_csv
from report import publish


def withhold_next(rows, fraction=0.2, min_users=400, seed=7):
    """Kept rows, and per sampled user (anchor item, withheld next item)."""
    by_user = defaultdict(list)
    for r in rows:
        by_user[r["user_id"]].append(r)
    eligible = sorted(u for u, rs in by_user.items() if len({r["item_id"] for r in rs}) >= 3)
    rng = random.Random(seed)
    users = rng.sample(eligible, min(len(eligible), max(int(len(by_user) * fraction), min_users)))
    test = {}
    for u in users:
        events = sorted(by_user[u], key=lambda r: epoch_seconds(r["timestamp"]))
        target = events[-1]["item_id"]
        anchor = next((r["item_id"] for r in reversed(events) if r["item_id"] != target), None)
        if anchor:
            test[u] = (anchor, target)
    kept = [r for r in rows if r["user_id"] not in test or r["item_id"] != test[r["user_id"]][1]]
    return kept, test


def hits(lists, test):
    h10 = h20 = 0
    for u, (anchor, target) in test.items():
        got = lists.get(u, [])
        h10 += target in got[:10]
        h20 += target in got[:20]
    return h10 / len(test), h20 / len(test)


def cooccurrence_lists(kept, test, k=20):
    had = defaultdict(set)
    for r in kept:
        had[r["user_id"]].add(r["item_id"])
    by_item = defaultdict(list)
    for items in had.values():
        for i in items:
            by_item[i].append(items)
    out, cache = {}, {}
    for u, (anchor, _) in test.items():
        if anchor not in cache:
            c = Counter()
            for items in by_item.get(anchor, []):
                c.update(items)
            c.pop(anchor, None)
            cache[anchor] = [i for i, _ in c.most_common(k)]
        out[u] = cache[anchor]
    return out


def category_best_lists(kept, test, category, k=20):
    counts = defaultdict(Counter)
    for r in kept:
        counts[category.get(r["item_id"], "")][r["item_id"]] += 1
    return {u: [i for i, _ in counts[category.get(anchor, "")].most_common(k + 1) if i != anchor][:k]
            for u, (anchor, _) in test.items()}


def served_similar(gw, key, test, k=20, category=None):
    out, algorithms = {}, Counter()
    for u, (anchor, _) in test.items():
        body = {"item_id": anchor, "count": k}
        if category and category.get(anchor):
            body["filters"] = {"category": category[anchor]}
        r = call(gw, "POST", "/api/v1/recommendations/similar", body, token=key)
        out[u] = [x["item_id"] for x in r["similar_items"]]
        algorithms[r.get("metadata", {}).get("algorithm", "?")] += 1
    return out, algorithms


def served_current_item(gw, key, test, k=20):
    """A new visitor's recommendations with the anchor as the page's current item."""
    out = {}
    for u, (anchor, _) in test.items():
        r = call(gw, "POST", "/api/v1/recommendations",
                 {"user_id": f"similar-visitor-{u}", "count": k, "context": {"current_item": anchor}}, token=key)
        out[u] = [x["item_id"] for x in r["recommendations"]]
    return out


def run_dataset(name, work, variants):
    items_csv, rows = load_dataset(name, work)
    category = {r["item_id"]: r.get("category", "") for r in load_csv_bytes(items_csv)}
    kept, test = withhold_next(rows)
    table = [("co-occurrence (offline)", *hits(cooccurrence_lists(kept, test), test), "", "")]
    if any(category.values()):
        table.append(("category bestsellers (offline)", *hits(category_best_lists(kept, test, category), test), "", ""))
    d = work / f"similar-{name.replace(':', '-')}"
    d.mkdir()
    p, ports = start(d, "data", {})
    try:
        _, key = tenant_key(ports["gateway"], "similar", ALL_SCOPES, {"auto_create_items": True})
        call(ports["pipeline"], "POST", "/api/v1/upload/items", raw=items_csv, token=key, ctype="text/csv")
        call(ports["pipeline"], "POST", "/api/v1/upload/interactions", raw=to_csv(kept), token=key, ctype="text/csv")
        for v in variants:
            body = dict(VARIANT_REQUESTS.get(v, {"model_type": v}), deploy_tolerance=1)
            t0 = time.monotonic()
            done = wait_job(ports["ml"], key, call(ports["ml"], "POST", "/api/v1/train", body, token=key))
            took = time.monotonic() - t0
            lists, algorithms = served_similar(ports["gateway"], key, test)
            note = f"{done.get('deployment_status')}; answered by {dict(algorithms)}"
            if done.get("chosen_model_type"):
                note += f"; chose {done['chosen_model_type']}"
            if done.get("similar_items"):
                sim = done["similar_items"]
                by_share = ", ".join(f"{k}: {v:.3f}" for k, v in sim.get("hit@20_by_category_share", {}).items())
                note += f"; category share {sim['category_share']} (the job's hit@20 by share over {sim.get('users')} users: {by_share})"
            table.append((f"ours: {v}", *hits(lists, test), f"{took:.0f} s", note))
            if os.environ.get("SIMILAR_BENCH_MIX") and any(category.values()):
                best = category_best_lists(kept, test, category)
                for share in (0.25, 0.5, 0.75):
                    mixed = {}
                    for u in test:  # take from the category's bestsellers at this share, in order, no repeats
                        a, b, out = list(lists[u]), list(best[u]), []
                        while len(out) < 20 and (a or b):
                            src = b if (b and (not a or len([x for x in out if x in best[u]]) < share * (len(out) + 1))) else a
                            x = src.pop(0)
                            if x not in out:
                                out.append(x)
                        mixed[u] = out
                    table.append((f"ours: {v} mixed with the category's bestsellers at {share}", *hits(mixed, test), "", ""))
            if os.environ.get("SIMILAR_BENCH_SAMECAT") and any(category.values()):
                same, _ = served_similar(ports["gateway"], key, test, category=category)
                table.append((f"ours: {v}, filtered to the item's category", *hits(same, test), "", ""))
            if os.environ.get("SIMILAR_BENCH_CURRENT"):
                table.append((f"ours: {v}, a visitor's recommendations on the item's page",
                              *hits(served_current_item(ports["gateway"], key, test), test), "", ""))
    finally:
        p.terminate()
        p.wait()
    return len(test), table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="electronics:3,shop,movielens,gowalla")
    ap.add_argument("--variants", default="ease,item_knn,als,lightgcn-softmax1024,auto")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="embedrec-similar-"))
    atexit.register(shutil.rmtree, work, True)  # the shops and servers' data
    os.chmod(work, 0o755)
    lines = ["Each sampled user's newest item withheld; 20 similar items of the item they had just before "
             "(POST /api/v1/recommendations/similar): hit@10 / hit@20 of the withheld one", ""]
    for name in args.data.split(","):
        n, table = run_dataset(name, work, args.variants.split(","))
        lines += [f"**{name}** ({n} test users)", "", "| variant | hit@10 | hit@20 | train | notes |",
                  "|---|---:|---:|---:|---|"]
        lines += [f"| {label} | {h10:.4f} | {h20:.4f} | {took} | {note} |" for label, h10, h20, took, note in table]
        lines.append("")
        print("\n".join(lines[-len(table) - 4:]), flush=True)
    publish("similar", "\n".join(lines))


if __name__ == "__main__":
    main()
