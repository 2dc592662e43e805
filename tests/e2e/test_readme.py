"""The README's first walk, pasted as a newcomer would: its shell block run
as it is against a server of our own (ports and admin token through the
variables the walk reads), on generated data."""
import json
import os
import re
import subprocess
from pathlib import Path

from conftest import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parents[2]


def walk_block():
    text = (ROOT / "README.md").read_text()
    section = text.split("## A first walk, end to end", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_readme_walk_runs_as_written(server, tmp_path):
    env = dict(os.environ, GW=f"127.0.0.1:{server.ports['gateway']}", ML=f"127.0.0.1:{server.ports['ml']}",
               PIPE=f"127.0.0.1:{server.ports['pipeline']}", EMBEDREC_ADMIN_TOKEN=ADMIN_TOKEN,
               SHOP=str(tmp_path / "shop"))
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", walk_block()], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    generated = json.loads(lines[0])  # generate-shop's summary
    assert generated["interactions"] == 20000
    uploads = [json.loads(x) for x in lines[1:3]]
    assert all(u["status"] == "success" and u["rows_accepted"] > 0 for u in uploads), uploads
    job = json.loads(lines[3])
    assert job["status"] == "completed" and job["deployment_status"] == "deployed", job
    assert job["lift"] > 1, job  # beats bestsellers on its validation split
    recs = [json.loads(x) for x in lines[4:9]]
    assert len(recs) == 5 and all(0 <= x["score"] <= 1 and x["reason"] for x in recs), recs
    similar, popular, visitor = (json.loads(x) for x in lines[9:12])
    assert len(similar) == 5 and "PROD_000001" not in similar
    assert len(popular) == 5
    # The visitor who viewed five Audio items is shown mostly Audio.
    assert sum(c == "Audio" for c in visitor) >= 5, visitor
    dashboard = json.loads(lines[12])
    assert dashboard["total_recommendations_served"] >= 6 and dashboard["clicks"] >= 1, dashboard
    assert dashboard["revenue_impact"] == {"attributed_revenue": 50, "attributed_orders": 1,
                                           "average_order_value": 50}, dashboard
