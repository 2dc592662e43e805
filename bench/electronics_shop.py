#!/usr/bin/env python3
"""A second synthetic shop, written apart from `embedrec generate-shop`, so
that quality is measured on data our own generator did not shape (issue 12:
"don't tune to your fixtures").

An electronics shop after the issue's description: 5,000 users, 10,000
items, ~145K view / add_to_cart / purchase events over six months. Its
structure is drawn differently from generate-shop's on purpose:
  - items: 24 categories of Zipf-distributed sizes, brands shared across
    categories, a log-normal price per category, a log-normal base
    popularity (heavy tail), a latent vector;
  - users: a category mix (Dirichlet, concentrated), two favourite brands,
    a preferred price level, a latent taste, Pareto-distributed activity;
  - sessions at random times, more of them in the last two months
    (seasonality); a session keeps to one category with probability 0.85
    per step; each view chooses by popularity, taste, brand and price
    (a softmax over the category); a view may lead to the cart, the cart
    to a purchase (a funnel).

Usage: bench/electronics_shop.py --out DIR [--users 5000 --items 10000
       --events 145000 --seed 1]
"""
import argparse
import datetime
from pathlib import Path

import numpy as np

CATEGORIES = ["Cameras", "Headphones", "Smart rings", "Laptops", "Phones", "Tablets", "TVs", "Speakers",
              "Smartwatches", "Drones", "Monitors", "Keyboards", "Mice", "Printers", "Routers",
              "Game consoles", "Chargers", "Cables", "Storage", "Projectors", "E-readers", "Microphones",
              "Webcams", "Fitness trackers"]


def generate(users, items, events, seed, days=182):
    rng = np.random.default_rng(seed)
    n_cat, dim, n_brand = len(CATEGORIES), 12, 90
    # Items.
    size = 1.0 / np.arange(1, n_cat + 1) ** 0.8
    cat_of = rng.choice(n_cat, size=items, p=size / size.sum())
    cat_brands = [rng.choice(n_brand, size=rng.integers(4, 13), replace=False) for _ in range(n_cat)]
    brand_of = np.array([cat_brands[c][min(int(rng.zipf(1.6)) - 1, len(cat_brands[c]) - 1)] for c in cat_of])
    cat_price = rng.uniform(np.log(15), np.log(1500), n_cat)
    log_price = cat_price[cat_of] + rng.normal(0, 0.5, items)
    base_pop = rng.normal(0, 2.0, items)
    vec = rng.normal(0, 1, (items, dim)) / np.sqrt(dim)
    members = [np.flatnonzero(cat_of == c) for c in range(n_cat)]
    # Users.
    mix = rng.dirichlet(np.full(n_cat, 1.5), users)
    fav_brands = rng.integers(0, n_brand, (users, 2))
    price_pref = rng.normal(0, 0.6, users)  # offset from a category's typical price
    taste = rng.normal(0, 1, (users, dim)) * 1.2
    activity = rng.pareto(1.6, users) + 1.0
    # Sessions: each user gets a share of the events by activity.
    start = datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc).timestamp()
    rows = []
    per_user = np.maximum(2, (activity / activity.sum() * events * 1.02).astype(int))
    for u in range(users):
        budget = int(per_user[u])
        t_first = start + rng.uniform(0, days * 0.6) * 86400
        while budget > 0:
            # Later days weigh more (the season before the holidays).
            r = rng.uniform()
            frac = r ** 0.7
            t = t_first + frac * (start + days * 86400 - t_first)
            c = rng.choice(n_cat, p=mix[u])
            views = 1 + int(rng.geometric(0.3))
            for _ in range(views):
                if budget <= 0:
                    break
                if rng.uniform() > 0.85:
                    c = rng.choice(n_cat, p=mix[u])
                m = members[c]
                logit = (base_pop[m] + vec[m] @ taste[u] + 0.9 * np.isin(brand_of[m], fav_brands[u])
                         - 0.8 * np.abs(log_price[m] - cat_price[c] - price_pref[u]))
                p = np.exp(logit - logit.max())
                i = int(m[rng.choice(len(m), p=p / p.sum())])
                t += rng.uniform(20, 240)
                rows.append((u, i, "view", t, int(rng.integers(5, 300))))
                budget -= 1
                utility = logit[np.searchsorted(m, i)] - logit.mean()
                if budget > 0 and rng.uniform() < 0.2 / (1 + np.exp(-utility + 1.0)):
                    t += rng.uniform(10, 120)
                    rows.append((u, i, "add_to_cart", t, 0))
                    budget -= 1
                    if budget > 0 and rng.uniform() < 0.55:
                        t += rng.uniform(30, 600)
                        rows.append((u, i, "purchase", t, 0))
                        budget -= 1
    rows.sort(key=lambda r: r[3])
    return cat_of, brand_of, log_price, rows


def write(out, cat_of, brand_of, log_price, rows):
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "items.csv", "w") as f:
        f.write("item_id,name,category,price,description,brand,tags\n")
        for i, (c, b, lp) in enumerate(zip(cat_of, brand_of, log_price)):
            f.write(f"E{i:05d},{CATEGORIES[c]} model {i},{CATEGORIES[c]},{np.exp(lp):.2f},"
                    f"A {CATEGORIES[c].lower()} item,Brand{b:02d},{CATEGORIES[c].lower()}\n")
    with open(out / "interactions.csv", "w") as f:
        f.write("user_id,item_id,interaction_type,timestamp,rating,duration_seconds\n")
        for u, i, kind, t, dur in rows:
            ts = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            f.write(f"C{u:05d},E{i:05d},{kind},{ts},,{dur if kind == 'view' else ''}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--events", type=int, default=145000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    write(Path(a.out), *generate(a.users, a.items, a.events, a.seed))


if __name__ == "__main__":
    main()
