"""Seed step 5: the interaction-history upload through the HTTP API."""
import socket
import subprocess

import pytest

from conftest import BIN
from test_upload_items import SEED_CSV

SEED_INTERACTIONS = (
    b"user_id,item_id,interaction_type,timestamp,rating,duration_seconds\n"
    b"USER_001,PROD_001,view,2024-01-10T14:23:00Z,,45\n"
    b"USER_001,PROD_001,add_to_cart,2024-01-10T14:25:00Z,,\n"
    b"USER_001,PROD_001,purchase,2024-01-10T14:30:00Z,5,\n"
    b"USER_002,PROD_003,view,2024-01-10T15:00:00Z,,120\n"
    b"USER_002,PROD_003,purchase,2024-01-10T15:05:00Z,5,\n"
    b"USER_003,PROD_002,view,2024-01-11T09:15:00Z,,300\n"
    b"USER_003,PROD_002,add_to_cart,2024-01-11T09:20:00Z,,\n")


@pytest.fixture
def shop(server):
    o = server.onboard("shop", scopes=["data:write", "recommendations:read"])
    r = server.upload("/api/v1/upload/items", SEED_CSV, o["api_key"])
    assert r.status == 200
    return o


def test_seed_step_5(server, shop):
    r = server.upload("/api/v1/upload/interactions", SEED_INTERACTIONS, shop["api_key"],
                      filename="interactions.csv", fields={"tenant_id": shop["tenant"]["id"]})
    assert r.status == 200, r
    a = r.json()
    assert (a["status"], a["rows_accepted"], a["rows_rejected"], a["duplicates_removed"]) == \
        ("success", 7, 0, 0)
    st = a["statistics"]
    assert st["unique_users"] == 3 and st["unique_items"] == 3
    assert st["interaction_types"] == {"view": 3, "add_to_cart": 2, "purchase": 2}
    assert st["time_range"] == {"start": "2024-01-10T14:23:00.000Z", "end": "2024-01-11T09:20:00.000Z"}
    assert a["storage_location"].endswith(".csv.zst")
    topics = [e["topic"] for e in
              server.request("GET", "/api/v1/data/events", token=shop["api_key"]).json()["events"]]
    assert topics == ["item-catalog-updated", "interactions-uploaded"]


def test_duplicates_are_dropped_and_counted(server, shop):
    body = SEED_INTERACTIONS + b"USER_001,PROD_001,view,2024-01-10T14:23:00Z,,45\n"
    r = server.upload("/api/v1/upload/interactions", body, shop["api_key"])
    a = r.json()
    assert (a["rows_accepted"], a["duplicates_removed"]) == (7, 1)
    # Uploading the same history again adds nothing.
    a = server.upload("/api/v1/upload/interactions", SEED_INTERACTIONS, shop["api_key"]).json()
    assert (a["rows_accepted"], a["rows_rejected"], a["duplicates_removed"]) == (0, 0, 7)
    # The same instant written another way is the same instant.
    a = server.upload("/api/v1/upload/interactions",
                      b"user_id,item_id,interaction_type,timestamp\n"
                      b"USER_001,PROD_001,view,2024-01-10T15:23:00+01:00\n"
                      b"USER_001,PROD_001,view,1704896580\n", shop["api_key"]).json()
    assert a["duplicates_removed"] == 2


def test_bad_rows_are_reported(server, shop):
    body = (b"user_id,item_id,interaction_type,timestamp,rating,quantity\n"
            b"U1,PROD_001,view,2024-01-10T14:23:00Z,,\n"        # 2 ok
            b"U1,PROD_999,view,2024-01-10T14:23:00Z,,\n"        # 3 unknown item
            b"U1,PROD_001,view,10/01/2024,,\n"                  # 4 bad timestamp
            b"U1,PROD_001,view,2024-01-10T14:23:99,,\n"         # 5 no such second
            b"U1,PROD_001,view,2999-01-01T00:00:00Z,,\n"        # 6 future
            b"U1,PROD_001,purchase,2024-01-10T14:23:00Z,7,\n"   # 7 rating out of range
            b"U1,PROD_001,teleport,2024-01-10T14:23:00Z,,\n"    # 8 unknown type
            b",PROD_001,view,2024-01-10T14:23:00Z,,\n"          # 9 no user
            b"U1,PROD_001,view\n"                               # 10 wrong field count
            b"U1,PROD_001,rating,2024-01-10T14:24:00Z,,\n"      # 11 rating without value
            b"U1,PROD_001,purchase,2024-01-10T14:25:00Z,,0\n"   # 12 quantity 0
            b"U2,,recommendations_shown,2024-01-10T14:26:00Z,,\n"  # 13 ok: impression w/o item
            b"U2,PROD_002,CLICK,1704896700,,\n")                # 14 ok: type case, epoch seconds
    a = server.upload("/api/v1/upload/interactions", body, shop["api_key"]).json()
    assert (a["rows_accepted"], a["rows_rejected"], a["duplicates_removed"]) == (3, 10, 0)
    rows = {e["row"]: e for e in a["validation_errors"]}
    assert sorted(rows) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "unknown item_id" in rows[3]["error"] and rows[3]["item_id"] == "PROD_999"
    assert rows[3]["user_id"] == "U1"
    assert "Invalid timestamp format" in rows[4]["error"]
    assert "future" in rows[6]["error"]
    assert "1 to 5" in rows[7]["error"]
    assert "teleport" in rows[8]["error"]
    assert a["statistics"]["interaction_types"] == {"view": 1, "recommendations_shown": 1, "click": 1}
    assert a["csv_delimiter"] == "," and "timestamps_read_as_utc" not in a


def test_times_without_a_zone_are_read_as_utc_and_counted(server, shop):
    # As databases and spreadsheets export them: no zone, no seconds, a date alone.
    body = (b"user_id,item_id,interaction_type,timestamp\n"
            b"U1,PROD_001,view,2024-01-10 14:23:00\n"
            b"U1,PROD_002,view,2024-01-10 14:24\n"
            b"U1,PROD_003,view,2024-01-11\n"
            b"U1,PROD_001,purchase,2024-01-12T10:00:00+0100\n")
    a = server.upload("/api/v1/upload/interactions", body, shop["api_key"]).json()
    assert (a["rows_accepted"], a["rows_rejected"], a["timestamps_read_as_utc"]) == (4, 0, 3), a
    evs = server.request("GET", "/api/v1/users/U1/interactions", token=shop["api_key"]).json()["interactions"]
    assert [e["timestamp"] for e in evs] == ["2024-01-12T09:00:00.000Z", "2024-01-11T00:00:00.000Z",
                                             "2024-01-10T14:24:00.000Z", "2024-01-10T14:23:00.000Z"], evs


def test_custom_types_come_from_tenant_settings(server, shop):
    body = b"user_id,item_id,interaction_type,timestamp\nU1,PROD_001,wishlist,2024-01-10T14:23:00Z\n"
    assert server.upload("/api/v1/upload/interactions", body, shop["api_key"]).json()["rows_rejected"] == 1
    r = server.admin("PATCH", f"/api/v1/admin/tenants/{shop['tenant']['id']}",
                     {"settings": {"interaction_types": {"wishlist": 2.0}}})
    assert r.status == 200
    assert server.upload("/api/v1/upload/interactions", body, shop["api_key"]).json()["rows_accepted"] == 1


def test_missing_columns_are_422(server, shop):
    r = server.upload("/api/v1/upload/interactions", b"user_id,item_id,timestamp\nU,P,1\n",
                      shop["api_key"])
    assert r.status == 422 and "interaction_type" in r.json()["error"]["message"]
    r = server.upload("/api/v1/upload/interactions", b"usr_id,item_id,interaction_type,timestamp\nU,P,view,1\n",
                      shop["api_key"])
    assert r.status == 422, r
    details = r.json()["error"]["details"]
    assert (details["column"], details["did_you_mean"]) == ("user_id", "usr_id"), details


def test_a_shops_own_column_names_are_read(server, shop):
    # Exports name columns their own way: "Customer ID" for user_id, "Product ID" or "SKU" for item_id.
    r = server.upload("/api/v1/upload/interactions",
                      b"Customer ID,Product ID,Event,Timestamp,Price\n"
                      b"C1,PROD_001,Order Completed,2024-01-10T14:30:00Z,99.99\n"
                      b"C1,PROD_002,Add To Cart,2024-01-10T14:20:00Z,\n", shop["api_key"])
    assert r.status == 200 and r.json()["rows_accepted"] == 2, r
    ev, cart = server.request("GET", "/api/v1/users/C1/interactions", token=shop["api_key"]).json()["interactions"]
    assert (ev["item_id"], ev["interaction_type"], ev["value"]) == ("PROD_001", "purchase", 99.99), ev
    assert cart["interaction_type"] == "add_to_cart", cart
    r = server.upload("/api/v1/upload/items", b"SKU,Title,Category,Price\nNEW_1,Lamp,Home,20\n", shop["api_key"])
    assert r.status == 200 and r.json()["rows_accepted"] == 1, r
    it = server.request("GET", "/api/v1/items/NEW_1", token=shop["api_key"]).json()
    assert (it["name"], it["price"]) == ("Lamp", 20), it


def test_dropped_connection_leaves_history_unchanged(server, shop):
    rows = b"".join(b"U%05d,PROD_001,view,2024-01-10T14:23:00Z\n" % i for i in range(20000))
    body = b"user_id,item_id,interaction_type,timestamp\n" + rows
    sock = socket.create_connection(("127.0.0.1", server.ports["pipeline"]))
    sock.sendall((f"POST /api/v1/upload/interactions HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {shop['api_key']}\r\nContent-Type: text/csv\r\n"
                  f"Content-Length: {len(body) + 500}\r\n\r\n").encode() + body)
    sock.close()
    # A later upload of one of those rows counts it as new: nothing of the first stayed.
    a = server.upload("/api/v1/upload/interactions",
                      b"user_id,item_id,interaction_type,timestamp\n"
                      b"U00001,PROD_001,view,2024-01-10T14:23:00Z\n", shop["api_key"]).json()
    assert (a["rows_accepted"], a["duplicates_removed"]) == (1, 0)


def test_generated_shop_imports_consistently(server, shop, tmp_path):
    subprocess.run([BIN, "generate-shop", "--out", str(tmp_path), "--items", "2000", "--users",
                    "1000", "--interactions", "100000", "--seed", "3"], check=True,
                   capture_output=True)
    o = server.onboard("generated", scopes=["data:write"])
    r = server.upload("/api/v1/upload/items", (tmp_path / "items.csv").read_bytes(), o["api_key"],
                      raw=True)
    assert r.json()["rows_accepted"] == 2000
    r = server.upload("/api/v1/upload/interactions",
                      (tmp_path / "interactions.csv").read_bytes(), o["api_key"], raw=True)
    a = r.json()
    assert a["rows_rejected"] == 0
    assert a["rows_accepted"] + a["duplicates_removed"] == 100000
    assert a["statistics"]["interaction_types"]["view"] > a["statistics"]["interaction_types"]["purchase"]


def test_data_quality_report_follows_uploads(server):
    o = server.onboard("quality", scopes=["data:write"])
    q = server.request("GET", "/api/v1/data/quality", token=o["api_key"], port="pipeline").json()
    codes = {w["code"] for w in q["warnings"]}
    assert {"no_catalog", "too_few_interactions"} <= codes
    assert q["counts"]["items"] == 0 and q["freshness_hours"] is None

    server.upload("/api/v1/upload/items", SEED_CSV, o["api_key"])
    body = SEED_INTERACTIONS + b"USER_004,PROD_001,view,2024-01-12T10:00:00Z,,\n" \
                               b"USER_004,PROD_404,view,2024-01-12T10:00:00Z,,\n"
    server.upload("/api/v1/upload/interactions", body, o["api_key"])
    q = server.request("GET", "/api/v1/data/quality", token=o["api_key"]).json()
    c = q["counts"]
    assert (c["users"], c["items"], c["interactions"]) == (4, 4, 8)
    assert c["items_without_interactions"] == 1          # PROD_004
    assert c["users_with_single_interaction"] == 1       # USER_004
    assert c["interactions_per_type"] == {"add_to_cart": 2, "purchase": 2, "view": 4}
    assert q["validity_percent"] == round(100 * 12 / 13, 1)  # 4 + 9 rows uploaded, 1 rejected
    assert q["completeness_percent"] == 83.3             # no image_url in the seed catalog
    assert q["freshness_hours"] > 24 * 300               # the seed's history is from 2024
    codes = {w["code"] for w in q["warnings"]}
    assert "too_few_interactions" in codes and "stale_data" in codes and "no_catalog" not in codes
    reader = server.create_key(o["jwt"], ["recommendations:read"], name="r")
    assert server.request("GET", "/api/v1/data/quality", token=reader["api_key"]).status == 403


def test_server_killed_mid_upload_keeps_data_as_it_was(make_server, tmp_path):
    import signal
    from conftest import ADMIN_TOKEN, Server
    data = tmp_path / "killed"
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN}, data_dir=data)
    o = s.onboard("killed", scopes=["data:write"])
    assert s.upload("/api/v1/upload/items", SEED_CSV, o["api_key"]).status == 200
    assert s.upload("/api/v1/upload/interactions", SEED_INTERACTIONS, o["api_key"]).status == 200
    rows = b"".join(b"K%06d,PROD_002,view,2024-02-01T00:00:00Z\n" % i for i in range(600000))
    body = b"user_id,item_id,interaction_type,timestamp\n" + rows
    sock = socket.create_connection(("127.0.0.1", s.ports["pipeline"]))
    # sendall returns once the server has read all but the socket buffers' worth
    # (a few MB of 25 MB): by then it has inserted at least one sorted chunk of
    # 262,144 rows into its open transaction.
    sock.sendall((f"POST /api/v1/upload/interactions HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {o['api_key']}\r\nContent-Type: text/csv\r\n"
                  f"Content-Length: {len(body) * 2}\r\n\r\n").encode() + body)
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait(timeout=10)
    sock.close()
    s2 = Server(data, env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN}).start()
    try:
        q = s2.request("GET", "/api/v1/data/quality", token=o["api_key"]).json()
        assert q["counts"]["interactions"] == 7 and q["counts"]["users"] == 3
        uploads = s2.request("GET", "/api/v1/data/uploads", token=o["api_key"]).json()["uploads"]
        assert len(uploads) == 2
        # The interrupted upload's rows are gone, not just hidden: one of them is new again.
        a = s2.upload("/api/v1/upload/interactions", b"user_id,item_id,interaction_type,timestamp\n"
                      b"K000001,PROD_002,view,2024-02-01T00:00:00Z\n", o["api_key"]).json()
        assert (a["rows_accepted"], a["duplicates_removed"]) == (1, 0)
    finally:
        s2.stop()


def test_a_100mb_file_streams_through(server, tmp_path):
    subprocess.run([BIN, "generate-shop", "--out", str(tmp_path), "--items", "5000", "--users",
                    "50000", "--interactions", "1850000", "--seed", "9"], check=True,
                   capture_output=True)
    path = tmp_path / "interactions.csv"
    assert path.stat().st_size > 100_000_000
    o = server.onboard("big", scopes=["data:write"])
    assert server.upload("/api/v1/upload/items", (tmp_path / "items.csv").read_bytes(),
                         o["api_key"], raw=True).status == 200
    a = server.upload("/api/v1/upload/interactions", path.read_bytes(), o["api_key"], raw=True).json()
    assert a["rows_rejected"] == 0
    assert a["rows_accepted"] + a["duplicates_removed"] == 1850000


def test_tracking_goes_on_during_a_long_upload(server):
    """A big upload is written in steps that stay invisible until it commits, so
    real-time tracking of the same tenant is neither blocked nor sees half an upload."""
    import time
    o = server.onboard("busy", scopes=["data:write", "interactions:write"])
    assert server.upload("/api/v1/upload/items", SEED_CSV, o["api_key"]).status == 200
    first = b"".join(b"B%06d,PROD_002,view,2024-02-01T00:00:00Z\n" % i for i in range(300000))
    rest = b"".join(b"C%06d,PROD_003,view,2024-02-01T00:00:00Z\n" % i for i in range(1000))
    body = b"user_id,item_id,interaction_type,timestamp\n" + first + rest
    sock = socket.create_connection(("127.0.0.1", server.ports["pipeline"]))
    sock.settimeout(60)
    head = (f"POST /api/v1/upload/interactions HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {o['api_key']}\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body[:-len(rest)])  # the upload is under way and waits for the rest
    try:
        for i in range(20):
            t0 = time.monotonic()
            r = server.request("POST", "/api/v1/interactions",
                               {"user_id": f"LIVE{i}", "item_id": "PROD_001",
                                "interaction_type": "view"}, token=o["api_key"])
            assert r.status == 201, r.body
            assert time.monotonic() - t0 < 2.0
        q = server.request("GET", "/api/v1/data/quality", token=o["api_key"]).json()
        assert (q["counts"]["interactions"], q["counts"]["users"]) == (20, 20)
        sock.sendall(rest)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, reply
            reply += chunk
    finally:
        sock.close()
    assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
    assert b'"rows_accepted":301000' in reply
    q = server.request("GET", "/api/v1/data/quality", token=o["api_key"]).json()
    assert (q["counts"]["interactions"], q["counts"]["users"]) == (301020, 301020)
