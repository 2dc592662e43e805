"""Scale-out backends (issue 18), one at a time, through the real binary:
the blob store on S3 (EMBEDREC_BLOB_URL=s3://…) keeps uploads' archives and
model files in the bucket, not under the data dir, and a deleted tenant's
objects go with it; the control store on PostgreSQL
(EMBEDREC_DATABASE_URL=postgresql://…) is shared by nodes with data dirs of
their own: a tenant, user, session and key made on one are known to the
other, with no secret configured."""
import json
import os
import re
import signal
import secrets
import subprocess
import time
from pathlib import Path

import boto3
import pytest

from conftest import ADMIN_TOKEN, BIN, STRONG_PASSWORD, wait_for
from test_training import LONG, shop_csvs, train, upload_shop, wait_done


def s3_env(services, prefix):
    return {"EMBEDREC_BLOB_URL": f"s3://{services['EMBEDREC_TEST_S3_BUCKET']}/{prefix}",
            **{k: services[k] for k in ("EMBEDREC_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                         "AWS_REGION")}}


def s3_keys(services, prefix):
    s3 = boto3.client("s3", endpoint_url=services["EMBEDREC_S3_ENDPOINT"], region_name=services["AWS_REGION"],
                      aws_access_key_id=services["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=services["AWS_SECRET_ACCESS_KEY"])
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=services["EMBEDREC_TEST_S3_BUCKET"], Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_uploads_and_models_live_in_s3(make_server, local_services):
    prefix = f"e2e-{secrets.token_hex(4)}/"
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, **s3_env(local_services, prefix)})
    shop = upload_shop(s, "s3shop")
    tid = shop["tenant"]["id"]
    job = wait_done(s, shop["api_key"], train(s, shop["api_key"]).json()["job_id"])
    keys = s3_keys(local_services, f"{prefix}tenants/{tid}/")
    assert any(k.startswith(f"{prefix}tenants/{tid}/uploads/") for k in keys), keys
    assert any(k.startswith(f"{prefix}tenants/{tid}/models/") for k in keys), keys
    assert not [p for p in (s.data_dir / "tenants" / tid).rglob("*") if "blobs" in p.parts and p.is_file()]
    r = s.request("POST", "/api/v1/recommendations", {"user_id": "U1", "count": 5}, token=shop["api_key"])
    assert r.status == 200 and r.json()["metadata"]["model_version"] == job["model_version"], r
    # Read back from S3 by a restarted server (nothing of the model is kept locally).
    s.stop()
    s.start()
    r = s.request("POST", "/api/v1/recommendations", {"user_id": "U1", "count": 5}, token=shop["api_key"])
    assert r.status == 200 and r.json()["metadata"]["model_version"] == job["model_version"], r
    assert len(r.json()["recommendations"]) == 5
    # A deleted tenant's objects are removed; another tenant's stay.
    other = upload_shop(s, "s3other")
    assert s.admin("DELETE", f"/api/v1/admin/tenants/{tid}").status == 204
    assert s3_keys(local_services, f"{prefix}tenants/{tid}/") == []
    assert s3_keys(local_services, f"{prefix}tenants/{other['tenant']['id']}/")


def test_a_bucket_that_does_not_answer_stops_the_start(tmp_path, local_services):
    env = s3_env(local_services, "x/")
    for bad, expect in ((dict(env, EMBEDREC_BLOB_URL="s3://no-such-bucket/x/"), "no-such-bucket"),
                        (dict(env, EMBEDREC_S3_ENDPOINT="http://127.0.0.1:9"), "S3"),
                        (dict(env, AWS_ACCESS_KEY_ID=""), "AWS_ACCESS_KEY_ID"),
                        (dict(env, EMBEDREC_BLOB_URL="ftp://x"), "s3://")):
        p = subprocess.run([BIN, "serve", "--data-dir", str(tmp_path / "d"), "--gateway-port", "0", "--ml-port", "0",
                            "--pipeline-port", "0"], env=bad, capture_output=True, text=True, timeout=60)
        assert p.returncode != 0 and expect in p.stdout + p.stderr, (bad, p.stdout[-500:], p.stderr[-500:])


def pg_env(services, database_url=None):
    return {"EMBEDREC_DATABASE_URL": database_url or services["EMBEDREC_TEST_DATABASE_URL"]}


def fresh_database(services):
    """A database of its own for a test (the control schema is per database)."""
    import urllib.parse
    name = f"e2e_{secrets.token_hex(4)}"
    url = services["EMBEDREC_TEST_DATABASE_URL"]
    subprocess.run(["psql", url, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
    return urllib.parse.urlunparse(urllib.parse.urlparse(url)._replace(path="/" + name))


def test_nodes_share_the_control_data_in_postgresql(make_server, local_services):
    url = fresh_database(local_services)
    # No admin token or JWT secret configured: the first node makes them, the
    # second finds them in the database.
    a = make_server(env=pg_env(local_services, url))
    token = (a.data_dir / "admin-token").read_text().strip()
    b = make_server(env=pg_env(local_services, url))
    assert not (b.data_dir / "admin-token").exists()
    assert not (a.data_dir / "control.db").exists() and not (b.data_dir / "control.db").exists()

    t = a.request("POST", "/api/v1/admin/tenants", {"name": "Shared", "slug": "shared"}, token=token)
    assert t.status == 201, t
    tid = t.json()["id"]
    got = b.request("GET", f"/api/v1/admin/tenants/{tid}", token=token)
    assert got.status == 200 and got.json()["slug"] == "shared", got
    assert b.request("POST", "/api/v1/admin/tenants", {"name": "Again", "slug": "shared"}, token=token).status == 409
    # A user made on B logs in on A; A's access token works on B.
    u = b.request("POST", "/api/v1/admin/users", {"tenant_id": tid, "email": "ops@shared.example.com",
                                                  "password": STRONG_PASSWORD, "role": "admin"}, token=token)
    assert u.status == 201, u
    login = a.request("POST", "/api/v1/auth/login", {"email": "ops@shared.example.com", "password": STRONG_PASSWORD})
    assert login.status == 200, login
    jwt = login.json()["access_token"]
    key = b.request("POST", "/api/v1/api-keys", {"name": "k", "scopes": ["recommendations:read"]}, token=jwt)
    assert key.status == 201, key
    listed = a.request("GET", "/api/v1/api-keys", token=jwt)
    assert listed.status == 200 and [k["id"] for k in listed.json()["api_keys"]] == [key.json()["id"]], listed
    # A key used on A (and cached there), revoked on B: A refuses it at once
    # (told through NOTIFY, not after its cache's 30 s).
    api_key = key.json()["api_key"]
    used = lambda: a.request("POST", "/api/v1/recommendations", {"user_id": "u", "count": 3}, token=api_key).status
    assert used() != 401
    assert b.request("DELETE", f"/api/v1/api-keys/{key.json()['id']}", token=jwt).status in (200, 204)
    wait_for(lambda: used() == 401, timeout=1.0, what="A to refuse the key revoked on B")
    # A refresh token rotated on A cannot be replayed on B.
    refresh = login.json()["refresh_token"]
    assert a.request("POST", "/api/v1/auth/refresh", {"refresh_token": refresh}).status == 200
    assert b.request("POST", "/api/v1/auth/refresh", {"refresh_token": refresh}).status == 401
    # Both restart on the same database and still know everything.
    a.stop()
    a.start()
    assert a.request("GET", f"/api/v1/admin/tenants/{tid}", token=token).status == 200

    # Secrets rotated on one node hold on the other at once, without a restart.
    old_login = b.request("POST", "/api/v1/auth/login", {"email": "ops@shared.example.com", "password": STRONG_PASSWORD})
    rotated = a.request("POST", "/api/v1/admin/secrets/jwt-keys/rotate", {}, token=token)
    assert rotated.status == 200 and len(rotated.json()["keys"]) == 2, rotated
    fresh = a.request("POST", "/api/v1/auth/login", {"email": "ops@shared.example.com", "password": STRONG_PASSWORD})
    for node in (a, b):  # the new key's token, and the old key's, on both
        for t in (fresh.json()["access_token"], old_login.json()["access_token"]):
            assert node.request("GET", "/api/v1/auth/me", token=t).status == 200
    new_token = a.request("POST", "/api/v1/admin/secrets/admin-token/rotate", {}, token=token)
    assert new_token.status == 200, new_token
    new_token = new_token.json()["admin_token"]
    assert b.request("GET", f"/api/v1/admin/tenants/{tid}", token=new_token).status == 200
    assert b.request("GET", f"/api/v1/admin/tenants/{tid}", token=token).status == 401
    assert a.request("GET", f"/api/v1/admin/tenants/{tid}", token=token).status == 401


def test_a_database_that_does_not_answer_stops_the_start(tmp_path, local_services):
    for url in ("postgresql://embedrec:wrong@127.0.0.1:1/embedrec", "mysql://x"):
        p = subprocess.run([BIN, "serve", "--data-dir", str(tmp_path / "d"), "--gateway-port", "0", "--ml-port", "0",
                            "--pipeline-port", "0"], env={"EMBEDREC_DATABASE_URL": url}, capture_output=True,
                           text=True, timeout=60)
        out = p.stdout + p.stderr
        assert p.returncode != 0 and ("PostgreSQL" in out or "postgresql://" in out), out[-800:]
        assert "wrong" not in out  # the password is never shown


def test_two_nodes_share_tenants_data_and_models(make_server, local_services):
    """Control and tenant data in PostgreSQL, files in S3: any node answers
    for any tenant."""
    url = fresh_database(local_services)
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, **pg_env(local_services, url),
           **s3_env(local_services, f"e2e-{secrets.token_hex(4)}/")}
    a = make_server(env=env)
    b = make_server(env=env)
    shop = upload_shop(b, "everywhere")  # tenant, user and key made on B, data uploaded to B
    key = shop["api_key"]
    job = wait_done(a, key, train(a, key).json()["job_id"])  # trained by A
    for node in (a, b):
        r = node.request("POST", "/api/v1/recommendations", {"user_id": "U1", "count": 5}, token=key)
        assert r.status == 200 and r.json()["metadata"]["model_version"] == job["model_version"], r
        assert len(r.json()["recommendations"]) == 5
        items = node.request("GET", "/api/v1/items?limit=5", token=key)
        assert items.status == 200 and len(items.json()["items"]) == 5, items
    # An interaction tracked on A is in the history B reads.
    writer = a.create_key(shop["jwt"], ["interactions:write", "analytics:read"], name="tracker")["api_key"]
    t = a.request("POST", "/api/v1/interactions", {"user_id": "NEW-1", "item_id": items.json()["items"][0]["item_id"],
                                                   "interaction_type": "view"}, token=writer)
    assert t.status in (200, 201, 202), t
    h = b.request("GET", "/api/v1/users/NEW-1/interactions", token=writer)
    assert h.status == 200 and len(h.json()["interactions"]) == 1, h

    # A new version deployed by A reaches B (told through PostgreSQL's
    # NOTIFY at once; B then reads the model from S3 again: seconds at most).
    def served(node):
        r = node.request("POST", "/api/v1/recommendations", {"user_id": "U2", "count": 5}, token=key)
        return r.json()["metadata"]["model_version"] if r.status == 200 else None
    job2 = wait_done(a, key, train(a, key).json()["job_id"])
    assert job2["model_version"] != job["model_version"]
    if job2["deployment_status"] != "deployed":  # the gate kept the first: deploy it by hand on A
        d = a.request("POST", f"/api/v1/models/{job2['model_version']}/deploy", {}, token=key, port="ml")
        assert d.status == 200, d
    wait_for(lambda: served(b) == job2["model_version"], timeout=5.0, what="B to serve A's new version")
    # A visitor known to B (as nobody yet) views items through A: B's next
    # answer follows those views within a second (the event reached B's
    # real-time state through NOTIFY, not a fresh read of the history).
    def algorithm(node, user):
        r = node.request("POST", "/api/v1/recommendations", {"user_id": user, "count": 5}, token=key)
        assert r.status == 200, r
        return r.json()["metadata"]["algorithm"]
    assert algorithm(b, "visitor-x") == "trending"
    for item in items.json()["items"][:5]:
        r = a.request("POST", "/api/v1/interactions", {"user_id": "visitor-x", "item_id": item["item_id"],
                                                       "interaction_type": "view"}, token=writer)
        assert r.status in (200, 201), r
    wait_for(lambda: algorithm(b, "visitor-x") != "trending", timeout=1.0, what="B to follow A's tracked views")
    # An item made unavailable through A is no longer shown by B (told at
    # once, not left to B's next re-read of the catalog a minute later).
    def shown(node):
        r = node.request("POST", "/api/v1/recommendations", {"user_id": "U2", "count": 5}, token=key)
        assert r.status == 200, r
        return [x["item_id"] for x in r.json()["recommendations"]]
    top = shown(b)[0]
    item = a.request("GET", f"/api/v1/items/{top}", token=key).json()
    assert a.request("PUT", f"/api/v1/items/{top}", {"name": item["name"], "available": False},
                     token=key).status == 200
    wait_for(lambda: top not in shown(b), timeout=1.0, what="B to stop showing the item A made unavailable")
    # One job per tenant across nodes: while A runs one, B refuses another.
    long_job = train(a, key, LONG).json()["job_id"]
    refused = train(b, key)
    assert refused.status == 409 and refused.json()["error"]["code"] == "job_running", refused
    assert refused.json()["error"]["details"]["job_id"] == long_job
    assert a.request("POST", f"/api/v1/training/{long_job}/cancel", {}, token=key, port="ml").status in (200, 202)
    wait_done(a, key, long_job)
    # A tenant suspended on A is refused by B at once.
    assert a.admin("PATCH", f"/api/v1/admin/tenants/{shop['tenant']['id']}", {"status": "suspended"}).status == 200
    wait_for(lambda: b.request("POST", "/api/v1/recommendations", {"user_id": "U2", "count": 5},
                               token=key).status in (401, 403), timeout=1.0, what="B to refuse the suspended tenant")


@pytest.mark.parametrize("backend", ["embedded", "postgresql"])
def test_a_catalog_upload_stores_what_one_upsert_after_another_would(make_server, local_services, backend):
    """Items reach PostgreSQL a thousand rows per statement: what is stored is
    what upserting each row in turn stores, as on the embedded default (the
    last values of a repeated id, its first place in the numbering; a rejected
    row nowhere; a deleted item back; replace mode deleting the rest)."""
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN}
    if backend == "postgresql":
        env.update(pg_env(local_services, fresh_database(local_services)))
    s = make_server(env=env)
    shop = s.onboard("catalog", scopes=["data:write", "recommendations:read"])
    key = shop["api_key"]
    assert s.request("PUT", "/api/v1/items/P7", {"name": "Seven"}, token=key).status in (200, 201)
    assert s.request("DELETE", "/api/v1/items/P7", token=key).status in (200, 204)
    rows = [f"P{i},Item {i},C{i % 7},{i}.5" for i in range(2500)]
    rows[1500] = "P10,Renamed ten,Moved,9.99"  # P10 again, a chunk later: its last values win
    rows[1501] = "P20,Twenty again,C6,"  # no price now
    rows[1502] = ",no id,C1,1"  # rejected
    csv = ("item_id,name,category,price\n" + "\n".join(rows) + "\n").encode()
    r = s.upload("/api/v1/upload/items", csv, key, raw=True)
    assert r.status == 200, r
    assert (r.json()["rows_accepted"], r.json()["rows_rejected"]) == (2499, 1), r.json()

    def get(item_id):
        g = s.request("GET", f"/api/v1/items/{item_id}", token=key)
        return g.json() if g.status == 200 else g.status
    assert (get("P10")["name"], get("P10")["category"], get("P10")["price"]) == ("Renamed ten", "Moved", 9.99)
    assert get("P20")["name"] == "Twenty again" and get("P20").get("price") is None
    assert get("P7")["name"] == "Item 7"  # deleted before, back
    assert get("P2499")["price"] == 2499.5
    assert get("P1502") == 404  # its row was the rejected one
    listed, cursor = [], None
    while True:
        page = s.request("GET", "/api/v1/items?limit=1000" + (f"&cursor={cursor}" if cursor else ""), token=key).json()
        listed += [x["item_id"] for x in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert len(listed) == 2497 and len(set(listed)) == 2497  # 2,500 ids but the three rows replaced
    r = s.upload("/api/v1/upload/items", b"item_id,name\nP1,One\nNEW,New\n", key, raw=True, query="?mode=replace")
    assert r.status == 200 and r.json()["items_deleted"] == 2496, r.json()
    assert get("P2") == 404 and get("P1")["name"] == "One" and get("NEW")["name"] == "New"


def test_analytics_count_what_every_node_served_and_tracked(make_server, local_services):
    """The recommendation log and analytics' rollups are in PostgreSQL: a
    view tracked through B is attributed to the answer A gave (named or
    found by the click window), a purchase through A to that click, and
    either node's dashboard shows the whole shop."""
    url = fresh_database(local_services)
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, **pg_env(local_services, url)}
    a = make_server(env=env)
    b = make_server(env=env)
    shop = upload_shop(a, "counted")
    key = shop["api_key"]
    wait_done(a, key, train(a, key).json()["job_id"])
    tracker = a.create_key(shop["jwt"], ["interactions:write", "analytics:read"], name="tracker")["api_key"]
    # B answers somebody first (its record of recent users starts), then A answers U1 and U2.
    assert b.request("POST", "/api/v1/recommendations", {"user_id": "U3", "count": 3}, token=key).status == 200
    answers = {}
    for user in ("U1", "U2"):
        r = a.request("POST", "/api/v1/recommendations", {"user_id": user, "count": 3}, token=key)
        assert r.status == 200, r
        answers[user] = (r.json()["metadata"]["recommendation_id"], r.json()["recommendations"][0]["item_id"])

    def track(node, body):
        r = node.request("POST", "/api/v1/interactions", body, token=tracker)
        assert r.status in (200, 201), r
    # U1's view names the answer; U2's does not (B finds A's answer in the shared log).
    track(b, {"user_id": "U1", "item_id": answers["U1"][1], "interaction_type": "view",
              "recommendation_id": answers["U1"][0]})
    track(b, {"user_id": "U2", "item_id": answers["U2"][1], "interaction_type": "view"})
    # B writes its clicks within a second; the purchases through A then find them in PostgreSQL.
    def board(node):
        r = node.request("GET", f"/api/v1/analytics/tenant/{shop['tenant']['id']}/dashboard?period=last_24_hours",
                         token=tracker)
        assert r.status == 200, r
        return r.json()["metrics"]
    wait_for(lambda: board(a)["clicks"] == 2, timeout=10, what="B's clicks in the shared rollups")
    track(a, {"user_id": "U1", "item_id": answers["U1"][1], "interaction_type": "purchase",
              "metadata": {"price": 20.0}})
    track(a, {"user_id": "U2", "item_id": answers["U2"][1], "interaction_type": "purchase",
              "metadata": {"price": 30.0}})
    m = wait_for(lambda: (lambda m: m if m["revenue_impact"]["attributed_orders"] == 2 else None)(board(b)),
                 timeout=10, what="A's orders on B's dashboard")
    assert m["total_recommendations_served"] == 3
    assert m["clicks"] == 2
    assert m["revenue_impact"]["attributed_revenue"] == 50.0
    assert board(a)["revenue_impact"]["attributed_revenue"] == 50.0
    # The data dirs hold no analytics or log databases of their own.
    for node in (a, b):
        assert not list(node.data_dir.rglob("analytics.db")) and not list(node.data_dir.rglob("recommendations.db"))


def restart_postgres(services):
    pg_ctl = ["/usr/lib/postgresql/15/bin/pg_ctl", "-D", services["EMBEDREC_TEST_PGDATA"], "-w", "-m", "fast",
              "restart"]
    if os.getuid() == 0:
        pg_ctl = ["runuser", "-u", "postgres", "--"] + pg_ctl
    subprocess.run(pg_ctl, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_postgresql_restart_is_survived(make_server, local_services):
    """PostgreSQL restarted under two nodes: what was acknowledged before is
    kept, the nodes answer again without a restart of their own (the pool
    replaces its dead connections), and they hear each other again (the
    listener reconnects)."""
    url = fresh_database(local_services)
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, **pg_env(local_services, url),
           **s3_env(local_services, f"e2e-{secrets.token_hex(4)}/")}
    a, b = make_server(env=env), make_server(env=env)
    shop = upload_shop(a, "restarts")
    key = shop["api_key"]
    job = wait_done(a, key, train(a, key).json()["job_id"])
    writer = a.create_key(shop["jwt"], ["interactions:write", "analytics:read"], name="tracker")["api_key"]
    item = a.request("GET", "/api/v1/items?limit=1", token=key).json()["items"][0]["item_id"]

    def track(node, user, ts):
        return node.request("POST", "/api/v1/interactions", {"user_id": user, "item_id": item,
                                                             "interaction_type": "view", "timestamp": ts},
                            token=writer).status
    assert track(a, "before", 1700000001) == 201
    restart_postgres(local_services)
    # Each node answers again on its own (a first call may still meet a dead connection).
    for node in (a, b):
        wait_for(lambda: track(node, "after", 1700000002 + (node is b)) == 201, timeout=10,
                 what="tracking after the restart")
    h = b.request("GET", "/api/v1/users/before/interactions", token=writer)
    assert h.status == 200 and len(h.json()["interactions"]) == 1, h
    # The listeners are back: a deploy on A reaches B.
    def served(node):
        r = node.request("POST", "/api/v1/recommendations", {"user_id": "U3", "count": 5}, token=key)
        return r.json()["metadata"]["model_version"] if r.status == 200 else None
    assert served(b) == job["model_version"]
    t2 = train(a, key)
    assert t2.status == 202, t2
    job2 = wait_done(a, key, t2.json()["job_id"])
    if job2["deployment_status"] != "deployed":
        assert a.request("POST", f"/api/v1/models/{job2['model_version']}/deploy", {}, token=key,
                         port="ml").status == 200
    wait_for(lambda: served(b) == job2["model_version"], timeout=5.0, what="B to hear of A's deploy again")


def test_a_training_job_outlives_its_node(make_server, local_services):
    """Training jobs wait in PostgreSQL's queue: a node without the ml role
    only submits; a node killed mid-job (kill -9) stops renewing its lease and
    another node with the ml role trains the job again from the start; a node
    stopping gracefully hands its job back at once."""
    url = fresh_database(local_services)
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_JOB_LEASE_SECONDS": "2", **pg_env(local_services, url),
           **s3_env(local_services, f"e2e-{secrets.token_hex(4)}/")}
    a = make_server(env=env)
    shop = upload_shop(a, "retried")
    key = shop["api_key"]
    paced = dict(LONG, epochs=1000)
    first = train(a, key, paced, time_budget_seconds=4)
    assert first.status == 202 and first.json()["status"] == "started", first  # A has a free worker: A runs it
    job_id = first.json()["job_id"]
    b = make_server(env=env)
    status = lambda node: node.request("GET", f"/api/v1/training/{job_id}/progress", token=key,
                                       port="ml").json()
    wait_for(lambda: status(b)["status"] == "training", timeout=30, what="A to train (seen from B)")
    a.stop(signal.SIGKILL)
    done = wait_for(lambda: (lambda p: p if p["status"] in ("completed", "failed", "cancelled") else None)(status(b)),
                    timeout=60, what="B to take over and finish A's job")
    assert done["status"] == "completed" and done["attempt"] == 2, done
    r = b.request("POST", "/api/v1/recommendations", {"user_id": "U1", "count": 5}, token=key)
    assert r.status == 200 and r.json()["metadata"]["model_version"] == done["model_version"], r

    # A graceful stop hands a running job back: another node takes it within
    # its next claim (half a second here), not after the lease.
    second = train(b, key, paced, time_budget_seconds=30)
    assert second.status == 202, second
    job_id = second.json()["job_id"]
    d = make_server(env=env)
    wait_for(lambda: status(d)["status"] == "training", timeout=30, what="B to train")
    b.stop()  # SIGTERM: hands the job back
    wait_for(lambda: status(d).get("attempt") == 2, timeout=1.5, what="D to take the handed-back job at once")
    assert d.request("POST", f"/api/v1/training/{job_id}/cancel", {}, token=key, port="ml").status in (200, 202)
    assert wait_done(d, key, job_id)["status"] == "cancelled"


def redis_ctl(services, *args):
    password = services["EMBEDREC_TEST_REDIS_URL"].split(":")[2].split("@")[0]
    return subprocess.run(["redis-cli", "-p", services["EMBEDREC_TEST_REDIS_PORT"], "-a", password,
                           "--no-auth-warning", *args], capture_output=True, text=True)


def test_limits_are_counted_across_nodes_in_redis(make_server, local_services, tmp_path):
    """With EMBEDREC_CACHE_URL=redis://…, a key's rate limit and an email's
    failed logins are counted once for all nodes, and an upload's progress is
    read through any node; Redis stopped, the nodes keep answering (counting
    per node) and share again once it is back."""
    url = fresh_database(local_services)
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_CACHE_URL": local_services["EMBEDREC_TEST_REDIS_URL"],
           **pg_env(local_services, url)}
    a, b = make_server(env=env), make_server(env=env)
    o = a.onboard("limited")
    key = o["api_key"]
    assert a.admin("PATCH", f"/api/v1/admin/tenants/{o['tenant']['id']}",
                   {"settings": {"rate_limit": {"requests_per_second": 0.5, "burst": 6}}}).status == 200
    bad = a.admin("PATCH", f"/api/v1/admin/tenants/{o['tenant']['id']}",
                  {"settings": {"rate_limit": {"requests_per_second": -1}}})
    assert bad.status == 422 and bad.json()["error"]["details"]["field"] == "settings.rate_limit.requests_per_second"
    popular = lambda node: node.request("GET", "/api/v1/recommendations/popular?count=3", token=key)
    # Six requests spread over both nodes take the burst (a settings change
    # reaches B at once through NOTIFY); the seventh is refused on either.
    statuses = [popular(a if i % 2 else b).status for i in range(6)]
    assert statuses == [200] * 6, statuses
    refused = popular(a)
    assert refused.status == 429 and refused.json()["error"]["code"] == "rate_limited", refused
    assert int(refused.headers["retry-after"]) >= 1
    # Another key of the tenant has a bucket of its own.
    other = a.create_key(o["jwt"], ["recommendations:read"], name="other")["api_key"]
    assert b.request("GET", "/api/v1/recommendations/popular?count=3", token=other).status == 200

    # Failed logins spread over both nodes lock the email out on both.
    login = lambda node, pw: node.request("POST", "/api/v1/auth/login", {"email": o["email"], "password": pw})
    for i in range(5):
        assert login(a if i % 2 else b, "wrong-password-1").status == 401
    locked = login(a, STRONG_PASSWORD)
    assert locked.status == 429 and locked.json()["error"]["code"] == "login_throttled", locked

    # An upload's progress (X-Upload-Progress) sent through A is read through B.
    loader = a.create_key(o["jwt"], ["data:write"], name="loader")["api_key"]
    items, _ = shop_csvs()
    assert a.upload("/api/v1/upload/items", items, loader, raw=True, headers={"X-Upload-Progress": "up-1"}).status == 200
    p = b.request("GET", "/api/v1/data/uploads/progress/up-1", token=loader, port="pipeline")
    assert p.status == 200 and p.json() == {"progress_id": "up-1", "bytes_read": len(items),
                                            "lines_read": items.count(b"\n"), "done": True}, p

    # Redis stops: both nodes answer (limits per node meanwhile); back, they share again.
    redis_ctl(local_services, "SHUTDOWN", "NOSAVE")
    during = a.create_key(o["jwt"], ["recommendations:read"], name="during")["api_key"]
    for node in (a, b):
        r = node.request("GET", "/api/v1/recommendations/popular?count=3", token=during)
        assert r.status == 200, r
    subprocess.run(["redis-server", local_services["EMBEDREC_TEST_REDIS_CONF"]], check=True,
                   stdout=subprocess.DEVNULL)
    wait_for(lambda: redis_ctl(local_services, "PING").stdout.strip() == "PONG", timeout=10, what="Redis back")
    tid = o["tenant"]["id"]
    for node in (a, b):  # each node counts in Redis again (within a second of it being back)
        probe = a.create_key(o["jwt"], ["recommendations:read"], name="probe")
        wait_for(lambda: node.request("GET", "/api/v1/recommendations/popular?count=3",
                                      token=probe["api_key"]).status == 200 and
                 redis_ctl(local_services, "EXISTS", f"embedrec:limits:rate:{tid}:{probe['id']}").stdout.strip() == "1",
                 timeout=10, what="the node to count in Redis again")
    after = a.create_key(o["jwt"], ["recommendations:read"], name="after")["api_key"]
    statuses = [(a if i % 2 else b).request("GET", "/api/v1/recommendations/popular?count=3", token=after).status
                for i in range(7)]
    assert statuses == [200] * 6 + [429], statuses


def kafka_messages(services, topic):
    """Every message of `topic` so far: (key, value as JSON)."""
    out = subprocess.run(["kcat", "-C", "-b", services["EMBEDREC_TEST_KAFKA_BROKERS"], "-t", topic, "-o", "beginning",
                          "-e", "-q", "-f", "%k\\t%s\\n"], capture_output=True, text=True, timeout=30)
    rows = [line.split("\t", 1) for line in out.stdout.splitlines() if "\t" in line]
    return [(k, json.loads(v)) for k, v in rows]


def test_events_are_published_to_kafka(make_server, local_services):
    """EMBEDREC_EVENTS_URL=kafka://…/prefix: a tenant's events (its outbox,
    written with the data) reach Kafka topics, keyed by tenant, in order; an
    event acknowledged by a node killed before it published is published by
    the next node to start; one acknowledged while the broker is down, once
    it is back."""
    url = fresh_database(local_services)
    prefix = f"e2e-{secrets.token_hex(4)}"
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, **pg_env(local_services, url),
           "EMBEDREC_EVENTS_URL": f"kafka://{local_services['EMBEDREC_TEST_KAFKA_BROKERS']}/{prefix}"}
    a = make_server(env=env)
    shop = upload_shop(a, "published")
    key, tid = shop["api_key"], shop["tenant"]["id"]
    job = wait_done(a, key, train(a, key).json()["job_id"])
    assert job["deployment_status"] == "deployed", job
    writer = a.create_key(shop["jwt"], ["interactions:write"], name="tracker")["api_key"]
    item = a.request("GET", "/api/v1/items?limit=1", token=key).json()["items"][0]["item_id"]
    assert a.request("POST", "/api/v1/interactions", {"user_id": "kafka-visitor", "item_id": item,
                                                      "interaction_type": "view"}, token=writer).status == 201

    def topic(name):
        return kafka_messages(local_services, f"{prefix}.{name}")
    wait_for(lambda: len(topic("user-interactions")) >= 1, timeout=10, what="the tracked event in Kafka")
    assert [v["payload"]["user_id"] for k, v in topic("user-interactions")] == ["kafka-visitor"]
    catalog = topic("item-catalog-updated")
    assert len(catalog) == 1 and catalog[0][0] == tid and catalog[0][1]["tenant_id"] == tid, catalog
    assert len(topic("interactions-uploaded")) == 1
    deployed = topic("model-deployed")
    assert [v["payload"]["model_version"] for k, v in deployed] == [job["model_version"]]
    seqs = [v["seq"] for t in ("item-catalog-updated", "interactions-uploaded", "model-deployed", "user-interactions")
            for k, v in topic(t)]
    assert len(set(seqs)) == len(seqs) and sorted(seqs) == seqs, seqs  # one log, in order

    # Killed right after acknowledging: the event is in PostgreSQL (the
    # outbox); the next node publishes it when it starts.
    a.stop(signal.SIGKILL)
    b = make_server(env=dict(env, EMBEDREC_EVENTS_URL="", EMBEDREC_LOG_LEVEL="warn"))  # no relay: tracks only
    assert b.request("POST", "/api/v1/interactions", {"user_id": "after-kill", "item_id": item,
                                                      "interaction_type": "purchase"}, token=writer).status == 201
    b.stop(signal.SIGKILL)
    assert [v["payload"]["user_id"] for k, v in topic("user-interactions")] == ["kafka-visitor"]
    c = make_server(env=env)
    users = lambda: [v["payload"]["user_id"] for k, v in topic("user-interactions")]
    wait_for(lambda: users() == ["kafka-visitor", "after-kill"], timeout=15,
             what="the next node to publish what was acknowledged before")

    # The broker killed (-9) and started again: an interaction acknowledged
    # while it was down is published once it is back (the relay retries).
    ls = [str(Path(__file__).resolve().parents[2] / "scripts" / "local-services")]
    svc = local_services["EMBEDREC_TEST_SERVICES_DIR"]
    subprocess.run(ls + ["kafka-stop", svc], check=True)
    try:
        assert c.request("POST", "/api/v1/interactions", {"user_id": "while-down", "item_id": item,
                                                          "interaction_type": "view"}, token=writer).status == 201
    finally:
        subprocess.run(ls + ["kafka-start", svc], check=True, stdout=subprocess.DEVNULL)
    wait_for(lambda: users() == ["kafka-visitor", "after-kill", "while-down"], timeout=60,
             what="the event acknowledged while Kafka was down, published once it is back")


def applied_from_kafka(node):
    m = re.search(r"^embedrec_events_applied_from_kafka (\d+)", node.request("GET", "/metrics").body, re.M)
    return int(m.group(1)) if m else 0


def test_with_kafka_nodes_follow_each_others_tracking_through_it(make_server, local_services):
    """With EMBEDREC_EVENTS_URL, a node reads the other nodes' tracked
    interactions from the published user-interactions events (not from
    NOTIFY): a visitor's views through A steer B's next answer, and A skips
    its own events."""
    url = fresh_database(local_services)
    prefix = f"e2e-{secrets.token_hex(4)}"
    env = {"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, **pg_env(local_services, url),
           **s3_env(local_services, f"e2e-{secrets.token_hex(4)}/"),
           "EMBEDREC_EVENTS_URL": f"kafka://{local_services['EMBEDREC_TEST_KAFKA_BROKERS']}/{prefix}"}
    a = make_server(env=env)
    b = make_server(env=env)
    shop = upload_shop(a, "followed")
    key = shop["api_key"]
    wait_done(a, key, train(a, key).json()["job_id"])
    writer = a.create_key(shop["jwt"], ["interactions:write"], name="tracker")["api_key"]
    items = a.request("GET", "/api/v1/items?limit=5", token=key).json()["items"]

    def algorithm(node, user):
        r = node.request("POST", "/api/v1/recommendations", {"user_id": user, "count": 5}, token=key)
        assert r.status == 200, r
        return r.json()["metadata"]["algorithm"]
    # The topics exist and B's consumer has them (an earlier visitor's view reaches B).
    assert a.request("POST", "/api/v1/interactions", {"user_id": "warm-up", "item_id": items[0]["item_id"],
                                                      "interaction_type": "view"}, token=writer).status == 201
    wait_for(lambda: applied_from_kafka(b) >= 1, timeout=30, what="B to read A's events from Kafka")
    cold = algorithm(b, "visitor-k")
    assert cold in ("trending", "popularity"), cold  # nothing known of the visitor yet
    for item in items:
        r = a.request("POST", "/api/v1/interactions", {"user_id": "visitor-k", "item_id": item["item_id"],
                                                       "interaction_type": "view"}, token=writer)
        assert r.status == 201, r
    start = time.monotonic()
    wait_for(lambda: algorithm(b, "visitor-k") != cold, timeout=5, what="B to follow A's views via Kafka")
    followed_s = time.monotonic() - start
    assert followed_s < 1.0, followed_s  # the aim: within a second
    assert applied_from_kafka(b) >= 1 + len(items)
    assert applied_from_kafka(a) == 0  # its own events are skipped
