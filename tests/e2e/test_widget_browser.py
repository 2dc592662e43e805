"""The widget in a real browser (issue 17): Debian's Chromium, driven by
playwright-core (web/e2e/demo_shop.mjs), opens a demo shop page on another
origin that embeds the widget with one <script> tag from the gateway. It
shows recommendations — an item named like an HTML tag as text, prices in
the shop's currency —, the shopper opens one (its page shows similar items)
and buys it, and the dashboard shows the click and the revenue. Screenshots (desktop, phone) go to build/screenshots."""
import http.server
import json
import subprocess
import threading
from pathlib import Path

from conftest import ADMIN_TOKEN, wait_for
from test_training import SCOPES, shop_csvs, train, wait_done

ROOT = Path(__file__).resolve().parents[2]
EVIL = '<img src=x onerror="window.pwned=1">'


def ensure_chromium():
    subprocess.run([str(ROOT / "scripts" / "install-deps"), "--browser"], check=True)


class DemoShop:
    """A directory served on a port of its own: another origin than the gateway."""

    def __init__(self, directory):
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(directory), **k)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def page(gateway, key, tenant, user):
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo shop</title><link rel="icon" href="data:,">
<style>body{{font-family:sans-serif;margin:1rem}} .recommendations-grid{{display:grid;
grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:.75rem}} .product-card{{border:1px solid #ccc;
border-radius:6px;padding:.5rem;cursor:pointer;overflow-wrap:anywhere}} .product-card img{{max-width:100%}}</style></head>
<body><h1>Demo shop</h1>
<div id="recommendations"><p>Loading…</p></div>
<div id="similar"></div>
<button id="buy">Buy what you opened</button>
<script src="{gateway}/widget.js"></script>
<script>
  window.widget = new RecommendationWidget("{key}", "{tenant}", {{ flushIntervalMs: 200 }});
  document.addEventListener("embedrec:select", (e) => {{
    window.opened = e.detail.item;
    // The product page of what was opened: its similar items.
    if (e.target.closest("#recommendations")) widget.renderSimilarItems("similar", "{user}", e.detail.item.item_id, {{ count: 4 }});
  }});
  document.getElementById("buy").addEventListener("click", () => {{
    const item = window.opened;
    if (item) widget.trackInteraction("{user}", item.item_id, "purchase", {{ price: 42.5, quantity: 2 }});
  }});
  widget.renderRecommendations("recommendations", "{user}");
</script></body></html>"""


def test_a_shop_page_shows_recommendations_and_its_clicks_and_sales_reach_the_dashboard(make_server, tmp_path):
    ensure_chromium()
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    o = server.onboard("demo-shop", scopes=SCOPES + ["interactions:write", "analytics:read"])
    key, tenant = o["api_key"], o["tenant"]["id"]
    items, interactions = shop_csvs()
    # P1 is named like an HTML tag; the shop pins it first on its home page.
    items = items.decode().replace("P1,Item 1,", f"P1,\"{EVIL.replace(chr(34), chr(34) * 2)}\",", 1).encode()
    assert server.upload("/api/v1/upload/items", items, key).status == 200
    assert server.upload("/api/v1/upload/interactions", interactions, key).status == 200
    assert wait_done(server, key, train(server, key).json()["job_id"])["status"] == "completed"
    demo_dir = tmp_path / "shop"
    demo_dir.mkdir()
    shop = DemoShop(demo_dir)
    try:
        assert server.admin("PATCH", f"/api/v1/admin/tenants/{tenant}", {"settings": {
            "allowed_origins": [shop.origin], "currency": "EUR",
            "merchandising": {"rules": [{"name": "hero", "action": "pin", "item_id": "P1", "position": 1,
                                         "pages": ["homepage"]}]}}}).status == 200
        pk = server.admin("POST", "/api/v1/api-keys", {"name": "web", "type": "publishable", "tenant_id": tenant})
        assert pk.status == 201, pk
        gateway = f"http://127.0.0.1:{server.ports['gateway']}"
        (demo_dir / "index.html").write_text(page(gateway, pk.json()["api_key"], tenant, "U0"))
        shots = ROOT / "build" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(["node", "e2e/demo_shop.mjs", f"{shop.origin}/index.html", str(shots)],
                             cwd=ROOT / "web", capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-3000:]
        seen = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        shop.stop()

    assert seen["errors"] == [] and seen["console"] == [], seen
    assert seen["cards"] >= 5
    assert seen["names"][0] == EVIL  # shown as text
    assert seen["reasons"][0] == "Featured by the shop (hero)"
    assert seen["pwned"] is None
    # Prices in the shop's currency (settings.currency), as the browser's locale writes euros.
    assert seen["prices"] and all("\u20ac" in p and "$" not in p for p in seen["prices"]), seen["prices"]
    assert all(src.startswith("http") for src in seen["images"] if src)
    assert seen["opened"] and seen["opened"] != "P1"
    # The opened item's page shows items similar to it, never the item itself.
    assert 1 <= len(seen["similar"]) <= 4 and seen["opened"] not in seen["similar"], seen
    for name in ("desktop", "phone"):
        assert (ROOT / "build" / "screenshots" / f"demo-shop-{name}.png").stat().st_size > 1000

    def dashboard():
        r = server.request("GET", f"/api/v1/analytics/tenant/{tenant}/dashboard?period=last_24_hours", token=key)
        assert r.status == 200, r
        m = r.json()["metrics"]
        return m if m["revenue_impact"]["attributed_orders"] >= 1 else None
    m = wait_for(dashboard, timeout=20, what="the shopper's click and purchase in the dashboard")
    assert m["revenue_impact"]["attributed_revenue"] == 85.0
    assert m["click_through_rate"] > 0
