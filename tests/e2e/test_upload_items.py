"""Seed step 4: the catalog upload, every rule of it, through the HTTP API."""
import gzip
import http.client
import json
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN

SEED_CSV = (b"item_id,name,category,price,description,brand,tags\n"
            b"PROD_001,Wireless Headphones,Audio,99.99,Premium noise-canceling headphones,AudioTech,wireless|bluetooth|premium\n"
            b"PROD_002,Gaming Laptop,Computers,1299.99,High-performance gaming laptop,TechPro,gaming|laptop|rgb\n"
            b"PROD_003,Smart Watch,Wearables,249.99,Fitness tracking smartwatch,FitTech,fitness|smartwatch|health\n"
            b"PROD_004,USB-C Cable,Accessories,12.99,Fast charging USB-C cable,GenericBrand,cable|charging|usb\n")


@pytest.fixture
def shop(server):
    return server.onboard("shop", scopes=["data:write", "recommendations:read"])


def item(server, shop, item_id):
    return server.request("GET", f"/api/v1/items/{item_id}", token=shop["api_key"])


def archive_text(server, location):
    """The archived upload at `location` ("file:" and a path under the data dir)."""
    path = server.data_dir / location.removeprefix("file:")
    return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout


def test_seed_step_4_multipart_upload(server, shop):
    r = server.upload("/api/v1/upload/items", SEED_CSV, shop["api_key"], filename="products.csv",
                      fields={"tenant_id": shop["tenant"]["id"]})
    assert r.status == 200, r
    a = r.json()
    assert a["status"] == "success"
    assert (a["rows_accepted"], a["rows_rejected"]) == (4, 0)
    assert a["validation_errors"] == []
    loc = a["storage_location"]
    assert loc.startswith(f"file:tenants/{shop['tenant']['id']}/blobs/") and loc.endswith(".csv.zst"), loc
    assert str(server.data_dir) not in loc  # the server's own paths are not shown
    assert archive_text(server, loc) == SEED_CSV
    it = item(server, shop, "PROD_002").json()
    assert it["name"] == "Gaming Laptop" and it["price"] == 1299.99
    assert it["tags"] == ["gaming", "laptop", "rgb"] and it["available"] is True
    uploads = server.request("GET", "/api/v1/data/uploads", token=shop["api_key"], port="pipeline").json()
    assert [u["upload_id"] for u in uploads["uploads"]] == [a["upload_id"]]
    assert uploads["uploads"][0]["result"]["rows_accepted"] == 4
    events = server.request("GET", "/api/v1/data/events", token=shop["api_key"]).json()["events"]
    assert [e["topic"] for e in events] == ["item-catalog-updated"]
    assert events[0]["payload"]["upload_id"] == a["upload_id"]


def test_raw_csv_gzip_and_zstd_bodies(server, shop):
    r = server.upload("/api/v1/upload/items", SEED_CSV, shop["api_key"], raw=True)
    assert r.status == 200 and r.json()["rows_accepted"] == 4, r
    r = server.upload("/api/v1/upload/items", gzip.compress(SEED_CSV), shop["api_key"], raw=True,
                      headers={"Content-Encoding": "gzip"})
    assert r.status == 200 and r.json()["rows_accepted"] == 4, r
    zst = subprocess.run(["zstd", "-c"], input=SEED_CSV, capture_output=True, check=True).stdout
    r = server.upload("/api/v1/upload/items", zst, shop["api_key"], filename="products.csv.zst")
    assert r.status == 200 and r.json()["rows_accepted"] == 4, r
    assert archive_text(server, r.json()["storage_location"]) == SEED_CSV
    r = server.upload("/api/v1/upload/items", b"\x1f\x8b garbage", shop["api_key"], raw=True,
                      headers={"Content-Encoding": "gzip"})
    assert r.status == 400, r


def test_a_semicolon_separated_spreadsheet_export_is_read_as_such(server):
    # Spreadsheets of many locales save ';'-separated CSV with decimal commas.
    o = server.onboard("eu-shop", scopes=["data:write", "interactions:write", "recommendations:read"])
    items = ("\ufeffitem_id;name;category;price\r\nP1;\"Kaffee, gemahlen\";Kaffee;12,99\r\n"
             "P2;Tee;Tee;3,5\r\n").encode()
    r = server.upload("/api/v1/upload/items", items, o["api_key"], filename="produkte.csv")
    assert r.status == 200 and (r.json()["rows_accepted"], r.json()["rows_rejected"]) == (2, 0), r
    it = item(server, o, "P1").json()
    assert it["name"] == "Kaffee, gemahlen" and it["price"] == 12.99, it
    events = (b"user_id;item_id;interaction_type;timestamp;price;quantity\n"
              b"U1;P1;purchase;2024-01-10T14:30:00Z;12,99;2\n")
    r = server.upload("/api/v1/upload/interactions", events, o["api_key"], raw=True)
    assert r.status == 200 and r.json()["rows_accepted"] == 1, r
    (ev,) = server.request("GET", "/api/v1/users/U1/interactions", token=o["api_key"]).json()["interactions"]
    assert (ev["value"], ev["quantity"]) == (12.99, 2), ev


def test_prices_with_their_currency_and_thousands_as_exports_write_them(server):
    # A European export: thousands points, decimal commas, the euro sign before or after.
    o = server.onboard("euro-shop", scopes=["data:write", "interactions:write", "recommendations:read"])
    items = ("item_id;name;price\nP1;Kamera;1.299,00 \u20ac\nP2;Tasche;\u20ac 49,90\nP3;Kabel;9\n"
             "P4;Stativ;$79\nP5;Objektiv;1,234\n").encode()
    a = server.upload("/api/v1/upload/items", items, o["api_key"], filename="produkte.csv").json()
    assert (a["rows_accepted"], a["rows_rejected"], a["currency"]) == (3, 2, "\u20ac"), a
    errors = {e["row"]: e["error"] for e in a["validation_errors"]}
    assert "amounts are not converted" in errors[5] and "'$'" in errors[5], errors
    assert "may be a thousand and more or a decimal" in errors[6], errors
    assert [item(server, o, i).json()["price"] for i in ("P1", "P2", "P3")] == [1299, 49.9, 9]
    assert item(server, o, "P4").status == 404
    # A shop in dollars: the value of a purchase as "$1,299.00" (quoted in a comma-separated file).
    events = b'user_id,item_id,interaction_type,timestamp,value\nU1,P1,purchase,2024-01-10T14:30:00Z,"$1,299.00"\n'
    a = server.upload("/api/v1/upload/interactions", events, o["api_key"], raw=True).json()
    assert (a["rows_accepted"], a["currency"]) == (1, "$"), a
    (ev,) = server.request("GET", "/api/v1/users/U1/interactions", token=o["api_key"]).json()["interactions"]
    assert ev["value"] == 1299, ev


def test_a_shop_that_names_its_currency_gets_amounts_only_in_it(server):
    o = server.onboard("dollar-shop", scopes=["data:write", "analytics:read"])
    tid = o["tenant"]["id"]
    r = server.admin("PATCH", f"/api/v1/admin/tenants/{tid}", {"settings": {"currency": "euro"}})
    assert r.status == 422 and r.json()["error"]["details"]["field"] == "settings.currency", r
    r = server.admin("PATCH", f"/api/v1/admin/tenants/{tid}", {"settings": {"currency": "usd"}})
    assert r.status == 200 and r.json()["settings"]["currency"] == "USD", r
    items = ("item_id,name,price\nP1,Cap,$5\nP2,Hat,USD 7\nP3,Bag,\"US$ 1,299.00\"\nP4,Mug,9\n"
             "P5,Pen,\u20ac3\nP6,Cup,CA$4\n").encode()
    a = server.upload("/api/v1/upload/items", items, o["api_key"]).json()
    assert (a["rows_accepted"], a["rows_rejected"], a["currency"]) == (4, 2, "$"), a
    errors = {e["row"]: e["error"] for e in a["validation_errors"]}
    assert sorted(errors) == [6, 7] and "the shop's currency is USD (settings.currency)" in errors[6], errors
    assert item(server, o, "P3").json()["price"] == 1299
    d = server.request("GET", f"/api/v1/analytics/tenant/{tid}/dashboard", token=o["api_key"]).json()
    assert d["currency"] == "USD", d
    s = server.request("GET", f"/api/v1/analytics/tenant/{tid}/timeseries?metric=revenue", token=o["api_key"]).json()
    assert s["currency"] == "USD", s
    # A price sent as text may carry the shop's currency, not another.
    key = server.create_key(o["jwt"], ["data:write", "interactions:write"], name="writer")["api_key"]
    assert server.request("PUT", "/api/v1/items/P7", {"name": "Kit", "price": "$1,299.00"}, token=key).status == 201
    assert item(server, o, "P7").json()["price"] == 1299
    r = server.request("POST", "/api/v1/interactions", {"user_id": "U1", "item_id": "P7", "interaction_type": "purchase",
                                                         "price": "\u20ac12"}, token=key)
    assert r.status == 422 and "the shop's currency is USD" in r.json()["error"]["message"], r
    r = server.request("POST", "/api/v1/interactions", {"user_id": "U1", "item_id": "P7", "interaction_type": "purchase",
                                                         "price": "USD 12.50"}, token=key)
    assert r.status == 201, r


def test_every_kind_of_bad_row_is_reported_with_its_row_number(server, shop):
    csv = ("\ufeffitem_id,name,price,in_stock,color\r\n"     # row 1: header (BOM, CRLF)
           "A1,\"Quoted, with comma\",10.50,true,red\r\n"    # 2 ok
           "A2,\"Multi\r\nline \"\"name\"\"\",1,no,\r\n"     # 3 ok (spans two lines)
           "A3,Bad price,12,5$,true,blue\r\n"                 # 4 wrong field count
           "A4,Bad price,abc,true,blue\r\n"                   # 5 invalid price
           "A5,Negative,-3,true,\r\n"                         # 6 negative price
           ",No id,1,true,\r\n"                               # 7 empty item_id
           f"{'X' * 300},Long id,1,true,\r\n"                 # 8 item_id too long
           "A9,Stock?,1,maybe,\r\n"                           # 9 bad in_stock
           "A10,\"bad\"quote,1,true,\r\n"                     # 10 malformed CSV
           "A11,Last,0,,green").encode()                      # 11 ok, no final newline
    bad_utf8 = b"\r\nA12,\xff\xfe,1,true,\r\n"                 # 12 invalid UTF-8
    r = server.upload("/api/v1/upload/items", csv + bad_utf8, shop["api_key"])
    assert r.status == 200, r
    a = r.json()
    assert a["rows_accepted"] == 3
    assert a["rows_rejected"] == 8
    assert a["status"] == "success"  # partly valid: what was valid is stored (the contract's answer)
    assert a["rows_accepted"] + a["rows_rejected"] + a["duplicates_removed"] == 11
    rows = {e["row"]: e for e in a["validation_errors"]}
    assert sorted(rows) == [4, 5, 6, 7, 8, 9, 10, 11 + 1]
    assert "price" in rows[5]["error"].lower() and rows[5]["item_id"] == "A4"
    assert "negative" in rows[6]["error"]
    assert "fields" in rows[4]["error"]
    assert a["extra_columns"] == ["color"]
    multi = item(server, shop, "A2").json()
    assert multi["name"] == 'Multi\r\nline "name"' and multi["available"] is False
    assert item(server, shop, "A1").json()["properties"] == {"color": "red"}
    assert item(server, shop, "A11").json()["price"] == 0
    assert item(server, shop, "A4").status == 404


@pytest.mark.parametrize("body,code", [
    (b"", "empty_file"),
    (b"name,price\nx,1\n", None),
    (b"item_id,name,item_id\nx,y,z\n", None),
])
def test_unusable_files_are_422_and_store_nothing(server, shop, body, code):
    r = server.upload("/api/v1/upload/items", body, shop["api_key"])
    assert r.status == 422, r
    if code:
        assert r.json()["error"]["code"] == code
    assert server.request("GET", "/api/v1/data/uploads", token=shop["api_key"]).json()["uploads"] == []


def test_header_only_file_is_an_empty_success(server, shop):
    r = server.upload("/api/v1/upload/items", b"item_id,name\r\n", shop["api_key"])
    assert r.status == 200 and r.json()["rows_accepted"] == 0 and r.json()["rows_rejected"] == 0


def test_upsert_then_replace(server, shop):
    server.upload("/api/v1/upload/items", SEED_CSV, shop["api_key"])
    r = server.upload("/api/v1/upload/items", b"item_id,name,price\nPROD_001,Renamed,1\n",
                      shop["api_key"])
    assert r.json()["rows_accepted"] == 1
    assert item(server, shop, "PROD_001").json()["name"] == "Renamed"
    assert item(server, shop, "PROD_002").status == 200  # upsert keeps the rest
    r = server.upload("/api/v1/upload/items", b"item_id,name\nPROD_009,New\n", shop["api_key"],
                      query="?mode=replace")
    assert r.status == 200 and r.json()["items_deleted"] == 4, r
    assert item(server, shop, "PROD_001").status == 404
    assert item(server, shop, "PROD_009").status == 200
    assert server.upload("/api/v1/upload/items", SEED_CSV, shop["api_key"],
                         query="?mode=merge").status == 422


def test_uploads_need_data_write_and_stay_in_the_callers_tenant(server, shop):
    other = server.onboard("other", scopes=["data:write"])
    reader = server.create_key(shop["jwt"], ["recommendations:read"], name="reader")
    r = server.upload("/api/v1/upload/items", SEED_CSV, reader["api_key"])
    assert r.status == 403, r
    r = server.upload("/api/v1/upload/items", SEED_CSV, shop["api_key"],
                      fields={"tenant_id": other["tenant"]["id"]})
    assert r.status == 403, r
    r = server.upload("/api/v1/upload/items", SEED_CSV, shop["api_key"],
                      query=f"?tenant_id={other['tenant']['id']}")
    assert r.status == 403, r
    assert item(server, shop, "PROD_001").status == 404
    assert server.request("GET", "/api/v1/items/PROD_001", token=other["api_key"]).status == 404
    # The platform admin's form field must agree with the tenant it names in the query.
    r = server.upload("/api/v1/upload/items", SEED_CSV, ADMIN_TOKEN, fields={"tenant_id": other["tenant"]["id"]},
                      query=f"?tenant_id={shop['tenant']['id']}")
    assert r.status == 400 and r.json()["error"]["details"]["field"] == "tenant_id", r
    assert item(server, shop, "PROD_001").status == 404
    assert server.request("GET", "/api/v1/items/PROD_001", token=other["api_key"]).status == 404
    # A tenant admin's JWT may upload too; the gateway port serves the route as well.
    r = server.upload("/api/v1/upload/items", SEED_CSV, shop["jwt"], port="gateway")
    assert r.status == 200, r


def test_unsupported_media_type_and_missing_file_part(server, shop):
    r = server.request("POST", "/api/v1/upload/items", raw=b"{}", token=shop["api_key"],
                       port="pipeline", headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.json()["error"]["code"] == "unsupported_media_type"
    boundary = "bnd"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n'
            f"--{boundary}--\r\n").encode()
    r = server.request("POST", "/api/v1/upload/items", raw=body, token=shop["api_key"],
                       port="pipeline",
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status == 400, r


def test_a_dropped_connection_mid_upload_stores_nothing(server, shop):
    rows = b"".join(b"D%06d,Dropped item %d,1.00\n" % (i, i) for i in range(20000))
    body = b"item_id,name,price\n" + rows
    sock = socket.create_connection(("127.0.0.1", server.ports["pipeline"]))
    head = (f"POST /api/v1/upload/items HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {shop['api_key']}\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {len(body) + 1000}\r\n\r\n").encode()
    sock.sendall(head + body)  # 1000 bytes short of the announced length
    sock.close()
    # The server notices the end of the stream, rolls back, and keeps serving.
    r = server.upload("/api/v1/upload/items", SEED_CSV, shop["api_key"])
    assert r.status == 200
    assert item(server, shop, "D000001").status == 404
    assert item(server, shop, "D019999").status == 404
    uploads = server.request("GET", "/api/v1/data/uploads", token=shop["api_key"]).json()["uploads"]
    assert len(uploads) == 1


def test_upload_limit_is_413(make_server):
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": "test-admin-token-0123456789",
                         "EMBEDREC_MAX_UPLOAD_BYTES": "1000"})
    o = s.onboard("small", scopes=["data:write"])
    r = s.upload("/api/v1/upload/items", SEED_CSV * 10, o["api_key"], raw=True)
    assert r.status == 413, r
    assert s.request("GET", "/healthz").status == 200


def test_large_generated_catalog_streams_through(server, shop, tmp_path):
    out = subprocess.run([server_bin(), "generate-shop", "--out", str(tmp_path / "g"), "--items",
                          "50000", "--interactions", "0"], capture_output=True, check=True)
    data = (tmp_path / "g" / "items.csv").read_bytes()
    r = server.upload("/api/v1/upload/items", data, shop["api_key"], raw=True)
    assert r.status == 200, r
    assert r.json()["rows_accepted"] == 50000 and r.json()["rows_rejected"] == 0
    assert item(server, shop, "PROD_050000").json()["description"].endswith('"best in class"')


def server_bin():
    from conftest import ADMIN_TOKEN, BIN
    return BIN


def test_an_upload_whose_every_row_is_rejected_says_failed(server):
    shop = server.onboard("allbad", scopes=["data:write", "recommendations:read"])
    r = server.upload("/api/v1/upload/items", b"item_id,name,price,in_stock\r\nB1,Bad,abc,true\r\n,No id,1,true\r\n",
                      shop["api_key"])
    assert r.status == 200, r
    a = r.json()
    assert (a["status"], a["rows_accepted"], a["rows_rejected"]) == ("failed", 0, 2), a
    assert len(a["validation_errors"]) == 2
    items = server.request("GET", "/api/v1/items", token=shop["api_key"])
    assert items.status == 200 and items.json()["items"] == [], items
