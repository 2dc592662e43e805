"""The admin console in a real browser (issue 17): Sarah signs in, creates a
key, uploads her items (one bad row: the errors table) and interactions,
trains with the live curve, deploys, tries a user, and reads the dashboard's
charts — Debian's Chromium driven by playwright-core
(web/e2e/console_journey.mjs). Screenshots of every page at desktop and
phone width go to build/screenshots."""
import datetime
import json
import subprocess
from pathlib import Path

from conftest import ADMIN_TOKEN
from test_training import shop_csvs
from test_widget_browser import ensure_chromium

ROOT = Path(__file__).resolve().parents[2]


def test_sarahs_journey_through_the_console(make_server, tmp_path):
    ensure_chromium()
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    t = server.admin("POST", "/api/v1/admin/tenants", {"name": "Sarah's shop", "slug": "sarah"})
    assert t.status == 201, t
    u = server.admin("POST", "/api/v1/admin/users", {"email": "sarah@shop.example", "password": "correct horse 42",
                                                       "role": "admin", "tenant_id": t.json()["id"]})
    assert u.status == 201, u
    items, interactions = shop_csvs()
    (tmp_path / "items.csv").write_bytes(items + b"P999,Broken item,cameras,not-a-price\n")
    (tmp_path / "interactions.csv").write_bytes(interactions)
    shots = ROOT / "build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{server.ports['gateway']}/"
    run = subprocess.run(["node", "e2e/console_journey.mjs", url, "sarah@shop.example", "correct horse 42",
                          str(tmp_path / "items.csv"), str(tmp_path / "interactions.csv"), str(shots), ADMIN_TOKEN],
                         cwd=ROOT / "web", capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert "failure" not in seen, seen
    assert seen["errors"] == [] and seen["console"] == [], seen
    assert seen["unlabeled"] == {}, seen["unlabeled"]  # every control has an accessible name
    assert seen["signedIn"] and seen["secret"].startswith("sk_live_")
    # The key was given an end of 30 days in the form: the list shows a date, the API stored it.
    assert len(seen["keyExpiries"]) == 1 and seen["keyExpiries"][0] not in ("never", ""), seen["keyExpiries"]
    jwt = server.request("POST", "/api/v1/auth/login",
                         {"email": "sarah@shop.example", "password": "correct horse 42"}).json()["access_token"]
    (key,) = server.request("GET", "/api/v1/api-keys", token=jwt).json()["api_keys"]
    left = datetime.datetime.fromisoformat(key["expires_at"].replace("Z", "+00:00")) - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(days=29, hours=23) < left <= datetime.timedelta(days=30), key
    assert seen["itemsProgress"] == 1 and "60 rows accepted, 1 rejected" in seen["itemsStage"], seen
    assert len(seen["itemsErrors"]) == 1 and seen["itemsErrors"][0].startswith("62"), seen["itemsErrors"]
    assert "rows accepted" in seen["interactionsStage"]
    assert seen["trainingStatus"].startswith("completed") and "standby" in seen["trainingStatus"]
    assert seen["curvePoints"] >= 2 and seen["curveCanvas"] >= 1
    # The form offers what it can send: every single type and auto, each numeric hyperparameter
    # (a blend's parts are a list, asked for through the API).
    assert "auto" in seen["trainingTypes"] and "lightgcn" in seen["trainingTypes"], seen["trainingTypes"]
    assert "blend" not in seen["trainingTypes"] and "blend" not in seen["hyperInputs"], seen
    assert "epochs" in seen["hyperInputs"], seen["hyperInputs"]
    assert seen["serving"] == 1 and seen["tried"] == 10
    drawn = {c["metric"]: c for c in seen["charts"]}
    assert set(drawn) == {"calls", "ctr", "conversion", "revenue", "latency_p95"}
    assert all(c["canvas"] >= 1 and c["points"] >= 1 for c in drawn.values()), drawn
    assert seen["settingsSaved"]
    assert seen["revenueLabels"] == ["Attributed revenue (EUR)", "Revenue (EUR)"], seen["revenueLabels"]
    settings = server.admin("GET", f"/api/v1/admin/tenants/{t.json()['id']}").json()["settings"]
    assert settings["allowed_origins"] == ["https://shop.example"] and settings["currency"] == "EUR"
    assert seen["afterReload"] == "sarah@shop.example" and "embedrec_refresh" not in seen["cookieVisible"]
    assert seen["signedOut"]
    assert seen["adminUsers"] == 1 and seen["adminWho"].startswith("platform admin · tenant")
    for page in ("tenants", "signin", "keys", "data", "training", "models", "try", "dashboard", "experiments", "settings"):
        for width in ("desktop", "phone"):
            assert (shots / f"console-{page}-{width}.png").stat().st_size > 1000, (page, width)
    # The console's pages carry their security headers.
    home = server.request("GET", "/", check_contract=False)
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    assert home.headers["x-frame-options"] == "DENY"
