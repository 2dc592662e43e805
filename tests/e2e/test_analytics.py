"""Seed step 9 through the HTTP API: a scripted day of traffic (answers with
and without the cache, impressions, clicks with and without
recommendation_id, carts, purchases with and without a price, a second
tenant's traffic), every dashboard figure, time-series point and breakdown
checked against what the script did, across a restart."""
import csv
import io

import pytest

from conftest import ADMIN_TOKEN, wait_for
from test_training import SCOPES, shop_csvs, train, wait_done

ANALYTICS_SCOPES = SCOPES + ["interactions:write", "analytics:read"]


def onboard_trained(server, slug):
    o = server.onboard(slug, scopes=ANALYTICS_SCOPES)
    items, interactions = shop_csvs()
    o["rows"] = 0
    for path, data in (("/api/v1/upload/items", items), ("/api/v1/upload/interactions", interactions)):
        r = server.upload(path, data, o["api_key"])
        assert r.status == 200, r
        o["rows"] += r.json()["rows_accepted"]
    done = wait_done(server, o["api_key"], train(server, o["api_key"]).json()["job_id"])
    assert done["deployment_status"] == "deployed", done
    o["version"] = done["model_version"]
    return o


class Script:
    """Calls made with one tenant's API key, counted per route."""

    def __init__(self, server, shop):
        self.server, self.shop, self.calls = server, shop, {}

    def call(self, method, path, body=None, route=None, **kw):
        r = self.server.request(method, path, body, token=self.shop["api_key"], **kw)
        key = route or f"{method} {path}"
        self.calls[key] = self.calls.get(key, 0) + 1
        return r

    def recommend(self, user, count=3):
        r = self.call("POST", "/api/v1/recommendations", {"user_id": user, "count": count})
        assert r.status == 200, r
        a = r.json()
        return a["metadata"]["recommendation_id"], [x["item_id"] for x in a["recommendations"]], a

    def track(self, body):
        r = self.call("POST", "/api/v1/interactions", body)
        assert r.status == 201, r
        return r


def dashboard(server, shop, tenant=None, token=None, query="period=last_24_hours"):
    tenant = tenant or shop["tenant"]["id"]
    return server.request("GET", f"/api/v1/analytics/tenant/{tenant}/dashboard?{query}",
                          token=token or shop["api_key"])


def settled(server, shop, check):
    """The dashboard once `check(d)` holds (analytics writes every second)."""
    def ready():
        r = dashboard(server, shop)
        assert r.status == 200, r
        d = r.json()
        return d if check(d) else None
    return wait_for(ready, timeout=20, what="the dashboard to show the script's figures")


def price_of(item):
    return 10 + int(item[1:])  # shop_csvs: P<i> costs 10 + i


def test_a_scripted_day_is_counted_and_attributed_exactly(make_server):
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    a = onboard_trained(server, "alpha")
    b = onboard_trained(server, "beta")
    server.admin("PATCH", f"/api/v1/admin/tenants/{a['tenant']['id']}",
                 {"settings": {"attribution": {"click_window_minutes": 30, "conversion_window_hours": 24}}})
    s = Script(server, a)

    # Answers: u1 twice with the same request (the second from the cache), u2 once, similar once.
    rec1, shown1, first = s.recommend("U0")
    rec1b, shown1b, second = s.recommend("U0")
    rec2, shown2, _ = s.recommend("U1")
    r = s.call("POST", "/api/v1/recommendations/similar", {"item_id": "P1", "count": 4})
    assert r.status == 200, r
    similar_id = r.json()["metadata"]["recommendation_id"]
    similar_items = [x["item_id"] for x in r.json()["similar_items"]]

    # Impressions: the widget's own (no id) counts; one naming a logged answer does not again.
    s.track({"user_id": "U0", "item_id": None, "interaction_type": "recommendations_shown"})
    s.track({"user_id": "U2", "interaction_type": "recommendations_shown", "recommendation_id": rec1})

    # Clicks: U0 names the answer; U1 does not (the window finds it); U9 views what nobody showed him;
    # an anonymous visitor clicks a similar item naming that answer in its context.
    s.track({"user_id": "U0", "item_id": shown1[0], "interaction_type": "view", "recommendation_id": rec1})
    s.track({"user_id": "U1", "item_id": shown2[1], "interaction_type": "view",
             "context": {"source": "homepage_recommendations"}})
    s.track({"user_id": "U9", "item_id": shown1[0], "interaction_type": "view"})
    s.track({"user_id": "anon-1", "item_id": similar_items[0], "interaction_type": "view",
             "context": {"recommendation_id": similar_id, "page": "product"}})

    # Carts and purchases: U0's with a price and quantity, U1's without a price (the catalog's),
    # U9's not from a recommendation.
    s.track({"user_id": "U0", "item_id": shown1[0], "interaction_type": "add_to_cart"})
    s.track({"user_id": "U0", "item_id": shown1[0], "interaction_type": "purchase",
             "metadata": {"price": 99.99, "quantity": 2}})
    s.track({"user_id": "U1", "item_id": shown2[1], "interaction_type": "purchase"})
    s.track({"user_id": "U9", "item_id": shown1[0], "interaction_type": "purchase",
             "metadata": {"price": 1000}})

    # The other tenant's traffic must not show.
    sb = Script(server, b)
    rec_b, shown_b, _ = sb.recommend("U0")
    sb.track({"user_id": "U0", "item_id": shown_b[0], "interaction_type": "view", "recommendation_id": rec_b})
    sb.track({"user_id": "U0", "item_id": shown_b[0], "interaction_type": "purchase",
              "metadata": {"price": 5000}})

    revenue = round(99.99 * 2 + price_of(shown2[1]), 2)
    d = settled(server, a, lambda d: d["metrics"]["revenue_impact"]["attributed_orders"] >= 2
                and d["metrics"]["total_recommendations_served"] >= 4)
    m = d["metrics"]
    assert d["period"] == "last_24_hours"
    assert m["total_recommendations_served"] == 4  # 3 answers + 1 similar
    assert m["impressions"] == 5                     # + the widget's own
    assert m["clicks"] == 3
    assert m["add_to_carts"] == 1
    assert m["click_through_rate"] == round(3 / 5, 4)
    assert m["conversion_rate"] == round(2 / 3, 4)
    assert m["cache_hit_rate"] == round(1 / 3, 4)  # 1 of the 3 recommendations answers
    assert m["revenue_impact"] == {"attributed_revenue": revenue, "attributed_orders": 2,
                                   "average_order_value": round(revenue / 2, 2)}
    assert m["events_tracked"] == s.calls["POST /api/v1/interactions"]
    # U1's click was found among the user's recent answers, which the log holds in memory.
    gauges = {l.split()[0]: float(l.split()[1]) for l in server.request("GET", "/metrics").body.splitlines()
              if l.startswith("embedrec_recommendation_log_")}
    assert gauges["embedrec_recommendation_log_resident_bytes"] > 0, gauges
    assert gauges["embedrec_recommendation_log_dropped"] == 0, gauges
    assert m["average_latency_ms"] > 0 and m["latency"]["p99_ms"] >= m["latency"]["p50_ms"] > 0
    routes = {e["endpoint"]: e for e in d["by_endpoint"]}
    for route, n in s.calls.items():
        assert routes[route]["calls"] == n, (route, routes.get(route))
    assert m["total_api_calls"] >= sum(s.calls.values())
    assert m["model_performance"]["model_version"] == a["version"]
    assert 0 < m["model_performance"]["ndcg@10"] <= 1
    versions = {v["model_version"]: v for v in d["by_model_version"]}
    assert versions[a["version"]]["attributed_orders"] == 2
    assert versions[a["version"]]["attributed_revenue"] == revenue
    top = {t["item_id"]: t for t in d["top_recommended_items"]}
    assert top[shown1[0]]["purchases"] == 1 and top[shown1[0]]["clicks"] >= 1
    shown_counts = {}
    for items in (shown1, shown1b, shown2, similar_items):
        for i in items:
            shown_counts[i] = shown_counts.get(i, 0) + 1
    for item, t in top.items():
        assert t["impressions"] == shown_counts[item], item
    assert set(d["data_quality"]) == {"freshness_hours", "completeness_percent", "validity_percent"}
    # Counted after the uploads (in the background): the figures of GET /api/v1/data/quality.
    quality = server.request("GET", "/api/v1/data/quality", token=a["api_key"]).json()
    shown = wait_for(lambda: dashboard(server, a).json()["data_quality"]["completeness_percent"] is not None
                     and dashboard(server, a).json()["data_quality"], what="the dashboard's data quality")
    assert shown["completeness_percent"] == quality["completeness_percent"] > 0
    assert shown["validity_percent"] == quality["validity_percent"] > 0
    assert d["attribution"] == {"click_window_minutes": 30, "conversion_window_hours": 24}
    # U1's click came from the homepage (context.source); what it led to is credited there too.
    assert d["by_source"] == [{"source": "homepage_recommendations", "clicks": 1, "add_to_carts": 0,
                               "attributed_orders": 1, "attributed_revenue": price_of(shown2[1])}]
    days = d["daily"]
    assert sum(x["recommendations_served"] for x in days) == 4

    # The slug names the tenant too; another tenant's id or slug is not found.
    assert dashboard(server, a, tenant="alpha").status == 200
    other = dashboard(server, a, tenant=b["tenant"]["id"])
    assert other.status == 404 and other.json()["error"]["code"]
    assert dashboard(server, b, tenant="alpha").status == 404
    db = settled(server, b, lambda d: d["metrics"]["revenue_impact"]["attributed_orders"] >= 1)
    assert db["metrics"]["revenue_impact"]["attributed_revenue"] == 5000
    assert db["metrics"]["total_recommendations_served"] == 1

    # Time series: the answers per hour add up, split by model version.
    ts = server.request("GET", f"/api/v1/analytics/tenant/{a['tenant']['id']}/timeseries"
                        "?metric=recommendations&interval=hour&period=last_24_hours", token=a["api_key"])
    assert ts.status == 200, ts
    points = ts.json()["points"]
    assert len(points) in (24, 25)
    assert sum(p["value"] for p in points) == 4
    assert sum(p["by_model_version"].get(a["version"], 0) for p in points) == 4
    # By the minute over the last hour: every answer in a minute of it.
    minutes = server.request("GET", f"/api/v1/analytics/tenant/{a['tenant']['id']}/timeseries"
                             "?metric=recommendations&interval=minute&period=last_hour", token=a["api_key"])
    assert minutes.status == 200, minutes
    points = minutes.json()["points"]
    assert len(points) in (60, 61) and sum(p["value"] for p in points) == 4
    old = server.request("GET", f"/api/v1/analytics/tenant/alpha/timeseries?metric=calls&interval=minute"
                         "&period=last_7_days", token=a["api_key"])
    assert old.status == 422 and old.json()["error"]["details"]["parameter"] == "interval"
    # Without a period, by the minute: the last 24 hours (minutes are kept for 47).
    day = server.request("GET", f"/api/v1/analytics/tenant/alpha/timeseries?metric=calls&interval=minute",
                         token=a["api_key"])
    assert day.status == 200, day
    assert day.json()["period"] == "last_24_hours" and len(day.json()["points"]) in (1440, 1441)
    revenue_days = server.request("GET", f"/api/v1/analytics/tenant/alpha/timeseries?metric=revenue&interval=day"
                                  "&period=last_7_days", token=a["api_key"]).json()["points"]
    assert round(sum(p["value"] for p in revenue_days), 2) == revenue

    # Usage records (billing): per day and API key, JSON and CSV; every tenant's for the admin.
    usage = server.request("GET", "/api/v1/usage?period=last_24_hours", token=a["api_key"])
    assert usage.status == 200, usage
    u = usage.json()
    key_id = a["key"]["id"]
    mine = [x for x in u["records"] if x["api_key_id"] == key_id]
    assert len(mine) == 1 and mine[0]["tenant_id"] == a["tenant"]["id"]
    rec = mine[0]
    for route, n in s.calls.items():
        assert rec["api_calls_by_endpoint"][route] == n, route
    assert rec["recommendations_served"] == 4
    assert rec["events_tracked"] == s.calls["POST /api/v1/interactions"]
    assert rec["rows_imported"] == a["rows"]
    unkeyed = [x for x in u["records"] if x["api_key_id"] is None]
    assert unkeyed and unkeyed[0]["training_seconds"] > 0 and unkeyed[0]["storage_bytes"] > 0
    assert u["totals"]["api_calls"] == sum(x["api_calls"] for x in u["records"])
    text = server.request("GET", "/api/v1/usage?period=last_24_hours&format=csv", token=a["api_key"])
    assert text.status == 200 and text.header("content-type").startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.body)))
    assert {r["tenant_id"] for r in rows} == {a["tenant"]["id"]}
    assert sum(float(r["value"]) for r in rows if r["metric"] == "api_calls" and r["api_key_id"] == key_id
               and r["endpoint"] == "POST /api/v1/recommendations") == 3
    assert sum(float(r["value"]) for r in rows if r["metric"] == "rows_imported") == a["rows"]
    everyone = server.admin("GET", "/api/v1/admin/usage?period=last_24_hours")
    assert everyone.status == 200, everyone
    tenants = {x["tenant_id"] for x in everyone.json()["records"]}
    assert {a["tenant"]["id"], b["tenant"]["id"]} <= tenants
    assert server.request("GET", "/api/v1/admin/usage", token=b["api_key"]).status == 403
    assert server.request("GET", "/api/v1/usage?format=xml", token=a["api_key"]).status == 422

    # A restart loses and doubles nothing; a purchase after it still finds the click before it.
    before = {k: m[k] for k in ("total_recommendations_served", "impressions", "clicks")}
    server.stop()
    server.start()
    s.track({"user_id": "U0", "item_id": shown1[0], "interaction_type": "purchase",
             "metadata": {"price": 10}})
    d = settled(server, a, lambda d: d["metrics"]["revenue_impact"]["attributed_orders"] >= 3)
    assert {k: d["metrics"][k] for k in before} == before
    assert d["metrics"]["revenue_impact"]["attributed_revenue"] == round(revenue + 10, 2)


@pytest.mark.parametrize("query,field", [
    ("period=last_year", "period"),
    ("from=yesterday", "from"),
    ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
    ("period=last_7_days&from=2026-01-01T00:00:00Z", "period"),
])
def test_bad_periods_are_clear_errors(server, query, field):
    o = server.onboard("gamma", scopes=["analytics:read"])
    r = dashboard(server, o, query=query)
    # Malformed text is a 400; a well-formed value breaking a rule (an unknown
    # period, a range backwards, period and from together) a 422.
    assert r.status == (400 if query == "from=yesterday" else 422), r
    err = r.json()["error"]
    assert err["code"] and err["message"]
    if field:
        assert err["details"].get("parameter") == field or field in err["message"]


def test_the_dashboard_needs_analytics_read(server):
    o = server.onboard("delta", scopes=["recommendations:read"])
    r = dashboard(server, o)
    assert r.status == 403, r
    viewer = server.request("GET", f"/api/v1/analytics/tenant/{o['tenant']['id']}/dashboard", token=o["jwt"])
    assert viewer.status == 200, viewer  # the tenant's admin user
    d = viewer.json()
    assert d["period"] == "last_7_days" and d["metrics"]["total_recommendations_served"] == 0
    assert d["metrics"]["revenue_impact"] == {"attributed_revenue": 0, "attributed_orders": 0,
                                              "average_order_value": 0}


def test_popular_answers_are_logged_and_their_clicks_attributed(make_server):
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    o = server.onboard("epsilon", scopes=ANALYTICS_SCOPES)
    items, interactions = shop_csvs()
    assert server.upload("/api/v1/upload/items", items, o["api_key"]).status == 200
    assert server.upload("/api/v1/upload/interactions", interactions, o["api_key"]).status == 200
    r = server.request("GET", "/api/v1/recommendations/popular?count=5&category=books", token=o["api_key"])
    assert r.status == 200, r
    rid = r.json()["metadata"]["recommendation_id"]
    shown = [x["item_id"] for x in r.json()["recommendations"]]
    log = server.request("GET", f"/api/v1/recommendations/log/{rid}", token=o["api_key"]).json()
    assert log["endpoint"] == "popular" and [x["item_id"] for x in log["items"]] == shown
    assert log["context"] == {"category": "books"}
    r = server.request("POST", "/api/v1/interactions", {"user_id": "visitor", "item_id": shown[2],
                       "interaction_type": "view", "recommendation_id": rid}, token=o["api_key"])
    assert r.status == 201, r
    d = settled(server, o, lambda d: d["metrics"]["clicks"] >= 1)
    assert d["metrics"]["clicks"] == 1 and d["metrics"]["total_recommendations_served"] == 1
