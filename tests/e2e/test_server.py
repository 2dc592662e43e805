"""The server as an operator sees it: ports and roles, health, metrics,
OpenAPI, request ids, keep-alive, timeouts and graceful shutdown."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ADMIN_TOKEN, BIN, STRONG_PASSWORD, wait_for
from test_upload_items import SEED_CSV


def test_health_ready_and_version(server):
    r = server.request("GET", "/healthz")
    assert r.status == 200 and r.json() == {"status": "ok"}
    r = server.request("GET", "/readyz", port="ml")
    assert r.status == 200 and r.json()["checks"]["control_store"] == "ok"
    out = subprocess.run([BIN, "version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("embedrec ")


def test_cli_help_lists_subcommands_and_settings():
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
    assert "serve" in out and "version" in out
    out = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True).stdout
    for env in ("EMBEDREC_DATA_DIR", "EMBEDREC_GATEWAY_PORT", "EMBEDREC_ML_PORT",
                "EMBEDREC_PIPELINE_PORT", "EMBEDREC_BIND", "EMBEDREC_ADMIN_TOKEN",
                "EMBEDREC_JWT_SECRET", "EMBEDREC_LOG_LEVEL", "EMBEDREC_LOG_FORMAT", "--roles"):
        assert env in out, env


def test_every_answer_carries_a_request_id(server):
    r = server.request("GET", "/healthz")
    assert r.header("x-request-id").startswith("req_")
    r = server.request("GET", "/nope", headers={"X-Request-Id": "trace-abc.1"})
    assert r.header("x-request-id") == "trace-abc.1"
    assert r.json()["error"]["details"]["request_id"] == "trace-abc.1"
    r = server.request("GET", "/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert r.header("x-request-id") != "bad id with spaces"


def test_routes_answer_on_their_port_and_the_gateway(server):
    assert server.admin("GET", "/api/v1/admin/tenants", port="gateway").status == 200
    r = server.admin("GET", "/api/v1/admin/tenants", port="ml")
    assert r.status == 404 and r.json()["error"]["code"] == "wrong_port"
    assert server.request("GET", "/healthz", port="pipeline").status == 200


def test_metrics_count_requests_by_route_and_status(server):
    server.request("GET", "/healthz")
    server.request("GET", "/api/v1/api-keys")  # 401
    text = server.request("GET", "/metrics").body
    assert 'embedrec_http_requests_total{route="/healthz",method="GET",status="200"}' in text
    assert 'embedrec_http_requests_total{route="/api/v1/api-keys",method="GET",status="401"} 1' in text
    assert "embedrec_http_request_duration_seconds_bucket{route=\"/healthz\",le=" in text
    assert "embedrec_http_requests_in_flight" in text
    assert "embedrec_build_info{" in text


def test_openapi_documents_every_route(server):
    doc = server.request("GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    for expected in [("POST", "/api/v1/admin/tenants"), ("GET", "/api/v1/admin/tenants/{id}"),
                     ("PATCH", "/api/v1/admin/tenants/{id}"), ("DELETE", "/api/v1/admin/tenants/{id}"),
                     ("POST", "/api/v1/admin/users"), ("POST", "/api/v1/auth/login"),
                     ("POST", "/api/v1/auth/refresh"), ("POST", "/api/v1/auth/logout"),
                     ("POST", "/api/v1/api-keys"), ("GET", "/api/v1/api-keys"),
                     ("DELETE", "/api/v1/api-keys/{id}"), ("GET", "/healthz"), ("GET", "/metrics")]:
        assert expected in ops, expected


def test_keep_alive_serves_many_requests_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.ports["gateway"], timeout=10)
    for _ in range(20):
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read()
    conn.close()


def test_idle_and_slow_clients_are_cut_off(make_server):
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_IDLE_TIMEOUT": "1",
                         "EMBEDREC_REQUEST_TIMEOUT": "1"})
    sock = socket.create_connection(("127.0.0.1", s.ports["gateway"]), timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes the header
    started = time.monotonic()
    data = sock.recv(4096)  # the server closes the connection
    assert data == b""
    assert time.monotonic() - started < 8
    sock.close()
    assert s.request("GET", "/healthz").status == 200


def test_malformed_http_gets_a_json_400(server):
    data = raw_exchange(server.ports["gateway"], b"GARBAGE\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["error"]["code"] == "malformed_http"


def test_roles_flag_starts_a_subset(make_server):
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN}, args=["--roles", "ml"])
    assert list(s.ports) == ["ml"]
    assert s.request("GET", "/healthz", port="ml").status == 200


def test_port_in_use_fails_clearly(server, tmp_path):
    busy = server.ports["gateway"]
    p = subprocess.run([BIN, "serve", "--data-dir", str(tmp_path / "other"), "--gateway-port",
                        str(busy), "--ml-port", "0", "--pipeline-port", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert str(busy) in p.stderr


def test_sigterm_lets_in_flight_requests_finish(server):
    o = server.onboard("graceful")
    body = json.dumps({"email": o["email"], "password": STRONG_PASSWORD})
    # Eight logins (argon2id, tens of ms each on four workers) sent back to back.
    conns = [http.client.HTTPConnection("127.0.0.1", server.ports["gateway"], timeout=30)
             for _ in range(8)]
    for c in conns:
        c.connect()
    for c in conns:
        c.request("POST", "/api/v1/auth/login", body=body,
                  headers={"Content-Type": "application/json"})

    def busy():
        text = server.request("GET", "/metrics").body
        for line in text.splitlines():
            if line.startswith("embedrec_http_requests_in_flight "):
                return float(line.split()[1]) >= 3  # logins still running (+ this call)
        return False

    wait_for(busy, what="logins in flight")
    server.proc.send_signal(signal.SIGTERM)
    statuses = []
    for c in conns:
        statuses.append(c.getresponse().status)
        c.close()
    assert server.proc.wait(timeout=30) == 0
    assert statuses == [200] * 8, statuses
    assert "stopped" in server.log_path.read_text()


@pytest.mark.parametrize("how", ["second signal", "deadline"])
def test_a_stop_held_by_a_request_ends_at_a_second_signal_or_at_its_deadline(make_server, how):
    """An upload still waiting for its body holds the graceful stop (its grace
    is long); a second SIGINT, or the stop's own deadline, ends the process at
    once, and what was acknowledged before is there after a restart."""
    deadline = 3 if how == "deadline" else 120
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN},
                    args=["--shutdown-grace", "120", "--shutdown-deadline", str(deadline)])
    o = s.onboard("held", scopes=["data:write", "interactions:write"])
    assert s.upload("/api/v1/upload/items", SEED_CSV, o["api_key"]).status == 200
    r = s.request("POST", "/api/v1/interactions",
                  {"user_id": "U1", "item_id": "PROD_001", "interaction_type": "view"}, token=o["api_key"])
    assert r.status == 201, r.body
    body = b"user_id,item_id,interaction_type\n" + b"".join(b"V%05d,PROD_002,view\n" % i for i in range(2000))
    sock = socket.create_connection(("127.0.0.1", s.ports["pipeline"]))
    try:
        sock.sendall((f"POST /api/v1/upload/interactions HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {o['api_key']}\r\nContent-Type: text/csv\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:len(body) // 2])

        def in_flight():
            for line in s.request("GET", "/metrics").body.splitlines():
                if line.startswith("embedrec_http_requests_in_flight "):
                    return float(line.split()[1]) >= 2  # the upload (+ this call)
            return False

        wait_for(in_flight, what="the upload in flight")
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "shutting down" in s.log_path.read_text(), what="the stop to begin")
        time.sleep(0.5)  # an observation window, not a synchronisation: still held half a second on
        assert s.proc.poll() is None, "the stop did not wait for the upload"
        if how == "second signal":
            s.proc.send_signal(signal.SIGINT)
            assert s.proc.wait(timeout=10) == 128 + signal.SIGINT
            assert "a second SIGINT during the stop: exiting now" in s.log_path.read_text()
        else:
            assert s.proc.wait(timeout=20) == 1
            assert 2.5 <= time.monotonic() - t0 < 15
            assert "longer than its deadline (3 s" in s.log_path.read_text()
    finally:
        sock.close()
    s.stop()
    again = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN}, data_dir=s.data_dir)
    q = again.request("GET", "/api/v1/data/quality", token=o["api_key"]).json()
    assert (q["counts"]["interactions"], q["counts"]["users"]) == (1, 1), q["counts"]


def test_json_log_format_writes_one_object_per_line(make_server):
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_LOG_FORMAT": "json"})
    s.request("POST", "/api/v1/admin/tenants", {"name": 'Quote " and \\ slash', "slug": "jsonlog"},
              token=ADMIN_TOKEN)
    assert s.stop() == 0
    lines = [l for l in s.log_path.read_text().splitlines() if l.strip()]
    records = [json.loads(l) for l in lines]
    assert {"ts", "level", "msg"} <= set(records[0])
    assert any("created tenant" in r["msg"] for r in records)
    assert any(r["msg"] == "stopped" for r in records)


def test_invalid_settings_refuse_to_start(tmp_path):
    p = subprocess.run([BIN, "serve", "--data-dir", str(tmp_path / "d"), "--log-format", "xml"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "xml" in p.stderr
    p = subprocess.run([BIN, "serve", "--data-dir", str(tmp_path / "d"), "--gateway-port", "0",
                        "--ml-port", "0", "--pipeline-port", "0"],
                       env={"EMBEDREC_ADMIN_TOKEN": "short"}, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode != 0 and "at least 16" in p.stderr


def raw_exchange(port, data, half_close=False):
    """Sends `data` on one connection (then stops sending, with `half_close`)
    and reads until the server closes it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(data)
    if half_close:
        sock.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    sock.close()
    return got


def test_request_framing_the_server_cannot_delimit_is_refused_and_closed(server):
    """RFC 9112 §6.1/§6.3 (request smuggling): a Transfer-Encoding other than
    one final "chunked", chunked on HTTP/1.0, or Transfer-Encoding beside
    Content-Length gets one 400 and the connection closes — the body is never
    read as a second request."""
    port = server.ports["gateway"]
    smuggled = b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
    for head in (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
                 b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                 b"POST /api/v1/auth/login HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                 b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Length: 5\r\n\r\n"):
        got = raw_exchange(port, head + smuggled)
        answers = re.findall(rb"(?:^|\r\n)HTTP/1\.[01] \d{3} ", got)
        assert len(answers) == 1, (head, got)  # one answer: the smuggled request is never served
        status_line, _, rest = got.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1.1 400") or status_line.startswith(b"HTTP/1.0 400"), (head, got)
        assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "malformed_http"
    # A well-framed chunked body is still read (and answered as the route would).
    body = b'{"email":"nobody@example.com","password":"x"}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    got = raw_exchange(port, b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
    assert got.startswith(b"HTTP/1.1 401"), got
    assert server.request("GET", "/healthz").status == 200


def test_an_oversized_header_gets_431(server):
    got = raw_exchange(server.ports["gateway"],
                       b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (256 * 1024) + b"\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 431"), got[:200]
    assert json.loads(got.partition(b"\r\n\r\n")[2])["error"]["code"] == "header_too_large"


def test_the_data_dir_and_databases_are_their_owners_only(server):
    """The data dir is 0700 and every SQLite database 0600 (the black-box
    probe found 0644 databases)."""
    o = server.onboard("modes")
    assert server.request("POST", "/api/v1/recommendations", {"user_id": "u", "count": 3},
                          token=o["api_key"]).status == 200
    assert os.stat(server.data_dir).st_mode & 0o777 == 0o700
    dbs = list(server.data_dir.rglob("*.db"))
    assert any(p.name == "control.db" for p in dbs) and any(p.name == "tenant.db" for p in dbs), dbs
    for p in dbs + list(server.data_dir.rglob("*.db-wal")):
        assert p.stat().st_mode & 0o777 == 0o600, (p, oct(p.stat().st_mode))


@pytest.mark.parametrize("case", ["no_scope", "bad_token", "too_large"])
def test_an_early_answer_reaches_a_client_still_sending_its_body(server, case):
    """Lingering close: the server answers before reading the body (403, 401,
    413), then reads and drops what the client still sends before closing,
    so a client that writes its whole body first (Python's urllib, 8 MB)
    reads the answer instead of a broken pipe."""
    import urllib.error
    import urllib.request
    o = server.onboard(f"linger-{case.replace('_', '-')}", scopes=["recommendations:read"])
    token = {"no_scope": o["api_key"], "bad_token": "nope", "too_large": ADMIN_TOKEN}[case]
    if case == "too_large":  # a JSON route's limit is far below 8 MB
        url = f"http://127.0.0.1:{server.ports['gateway']}/api/v1/admin/tenants"
        body, ctype, want = b'{"pad":"' + b"y" * (8 << 20) + b'"}', "application/json", 413
    else:
        url = f"http://127.0.0.1:{server.ports['pipeline']}/api/v1/upload/items"
        body = b"item_id,name\r\n" + b"".join(b"P%d,Name %d\r\n" % (i, i) for i in range(400_000))
        ctype, want = "text/csv", {"no_scope": 403, "bad_token": 401}[case]
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": ctype})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(req, timeout=30)
    assert answer.value.code == want
    assert json.loads(answer.value.read())["error"]["code"]
    assert server.request("GET", "/healthz").status == 200


@pytest.mark.parametrize("head", [
    b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",  # framing refused
    b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  # bad chunk
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",  # then bytes nobody asked for
])
def test_an_answer_before_closing_is_never_lost_to_unread_bytes(server, head):
    """Found by tests/fuzz/http_request_fuzz: a malformed request answered
    with 400 and closed at once, with bytes still unread, could reset the
    connection and lose the answer. The server drains them first."""
    # A megabyte after it, unread when the answer goes out.
    got = raw_exchange(server.ports["gateway"], head + b"x" * (1 << 20), half_close=True)
    assert got.startswith(b"HTTP/1.1 "), got[:200]
    assert got.startswith(b"HTTP/1.1 200") == head.startswith(b"GET"), got[:200]


def test_metrics_name_tenants_by_an_alias_unless_the_platform_admin_asks(server):
    """Unauthenticated /metrics does not list tenants' ids: their series carry
    a keyed-hash alias (the tenant's metrics_label); the admin token shows ids."""
    o = server.onboard("metered", scopes=["recommendations:read"])
    tid = o["tenant"]["id"]
    assert server.request("POST", "/api/v1/recommendations", {"user_id": "u", "count": 3},
                          token=o["api_key"]).status == 200
    label = server.admin("GET", f"/api/v1/admin/tenants/{tid}").json()["metrics_label"]
    assert re.fullmatch(r"t_[0-9a-f]{16}", label), label
    public = server.request("GET", "/metrics").body
    assert tid not in public
    assert f'tenant="{label}"' in public
    admin = server.request("GET", "/metrics", token=ADMIN_TOKEN).body
    assert f'tenant="{tid}"' in admin and label not in admin
    # Another tenant's key neither sees ids nor the other tenant's label mapping.
    other = server.onboard("other-metered", scopes=["recommendations:read"])
    assert tid not in server.request("GET", "/metrics", token=other["api_key"]).body


def test_a_restart_removes_what_a_write_killed_midway_left(make_server):
    """kill -9 in the middle of an upload leaves the archive's unfinished
    ".tmp-*" file; the next start removes it (the finished archives stay)."""
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    o = server.onboard("tmpfiles", scopes=["data:write", "recommendations:read"])
    r = server.upload("/api/v1/upload/items", b"item_id,name\r\nP1,One\r\n", o["api_key"])
    assert r.status == 200, r
    archive = server.data_dir / r.json()["storage_location"].removeprefix("file:")
    assert archive.exists()
    server.stop(signal.SIGKILL)
    leftover = archive.parent / ".tmp-killedmidway"
    leftover.write_bytes(b"half an upload")
    server.start()
    assert not leftover.exists()
    assert archive.exists()


def test_secrets_never_reach_the_log(make_server):
    """Tokens, keys and passwords a session handles are never written to the
    server's log (at debug level too), whatever fails along the way."""
    server = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_LOG_LEVEL": "debug"})
    o = server.onboard("secretive", scopes=["data:write", "recommendations:read", "interactions:write"])
    session = server.login(o["email"])
    refreshed = server.request("POST", "/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]}).json()
    # Failures that name what was sent: a reused refresh token, a wrong password, a bad key.
    assert server.request("POST", "/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]}).status == 401
    assert server.request("POST", "/api/v1/auth/login", {"email": o["email"], "password": "Wrong-" + STRONG_PASSWORD}
                          ).status == 401
    assert server.request("POST", "/api/v1/recommendations", {"user_id": "u"}, token=o["api_key"] + "x").status == 401
    assert server.upload("/api/v1/upload/items", b"item_id,name\r\nP1,One\r\n", o["api_key"]).status == 200
    assert server.request("POST", "/api/v1/auth/logout", {"refresh_token": refreshed["refresh_token"]}).status == 204
    server.stop()
    log = server.log_path.read_text(errors="replace")
    assert "refresh token reuse detected" in log  # the log was written, failures included
    for secret in (ADMIN_TOKEN, STRONG_PASSWORD, o["api_key"], session["access_token"], session["refresh_token"],
                   refreshed["access_token"], refreshed["refresh_token"]):
        assert secret not in log, f"a secret ({secret[:6]}…) is in the log"


def test_openblas_runs_the_kernels_of_this_cpu(make_server):
    """Debian's OpenBLAS falls back to SSE3 (Prescott) kernels on a CPU it does
    not know (measured: a Sapphire Rapids Xeon under a VM, EASE 3.5-4x slower);
    the server then runs itself again with the kernels of the AVX2 / AVX-512 it
    has. OPENBLAS_CORETYPE, when given, is honoured as given."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break

    def kernels(s):
        line = wait_for(lambda: next((x for x in s.log_path.read_text().splitlines() if "OpenBLAS kernels" in x),
                                     None), what="the ready line")
        return line.rsplit(" ", 1)[1]

    old = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge", "Atom", "Katmai",
           "Coppermine", "Northwood", "Banias", "Barcelona", "Opteron", "Opteron_SSE3", "Bobcat",
           "Bulldozer", "Piledriver", "Steamroller", "Excavator", "Unknown"}
    core = kernels(make_server())
    if {"avx2", "fma"} <= flags:
        assert core not in old, core
    assert kernels(make_server(env={"OPENBLAS_CORETYPE": "Prescott"})) == "Prescott"


def test_openmp_threads_spin_briefly_before_they_sleep_unless_told_otherwise(make_server):
    """libgomp reads GOMP_SPINCOUNT when it is loaded: the server sets a short
    spin (a training job's threads, preempted by requests, spun at every
    barrier for nothing) and runs itself again, unless the environment chose
    (GOMP_SPINCOUNT, or OMP_WAIT_POLICY, which sets its own)."""
    def environ(s):
        raw = Path(f"/proc/{s.proc.pid}/environ").read_bytes()
        return dict(e.split("=", 1) for e in raw.decode(errors="replace").split("\0") if "=" in e)

    again = make_server(env={"GOMP_SPINCOUNT": None, "OMP_WAIT_POLICY": None})
    assert environ(again).get("GOMP_SPINCOUNT") == "10000"
    # Run again through /proc/self/exe, it keeps its name (ps, top, pkill), not the kernel's "exe".
    assert Path(f"/proc/{again.proc.pid}/comm").read_text().strip() == "embedrec"
    assert environ(make_server(env={"GOMP_SPINCOUNT": "777"}))["GOMP_SPINCOUNT"] == "777"
    kept = environ(make_server(env={"GOMP_SPINCOUNT": None, "OMP_WAIT_POLICY": "active"}))
    assert kept["OMP_WAIT_POLICY"] == "active" and "GOMP_SPINCOUNT" not in kept


def test_a_slow_request_is_logged_with_its_id_and_where_its_time_went(make_server):
    # A tenant's creation makes its database: well over a millisecond, the
    # slow-request time asked here (the default is a second).
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_SLOW_REQUEST_MS": "1"})
    r = s.request("POST", "/api/v1/admin/tenants", {"name": "Slow", "slug": "slow"}, token=ADMIN_TOKEN,
                  headers={"X-Request-Id": "client-chosen-id-42"})
    assert r.status == 201
    wait_for(lambda: "slow request client-chosen-id-42:" in s.log_path.read_text(), what="the slow-request line")
    line = next(l for l in s.log_path.read_text().splitlines() if "slow request client-chosen-id-42:" in l)
    assert "POST /api/v1/admin/tenants answered 201 after" in line
    assert re.search(r"waited \d+ ms for a worker, its handler ran \d+ ms", line), line
    text = s.request("GET", "/metrics", token=ADMIN_TOKEN).body
    assert 'embedrec_http_slow_requests_total{route="/api/v1/admin/tenants"} 1' in text
    assert re.search(r"^embedrec_http_network_thread_stalls_total 0$", text, re.M), text
    assert s.stop() == 0


def test_requests_under_the_slow_request_time_are_not_logged(make_server):
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN})
    for i in range(5):
        assert s.request("POST", "/api/v1/admin/tenants", {"name": f"Fast {i}", "slug": f"fast{i}"},
                         token=ADMIN_TOKEN).status == 201
    assert s.stop() == 0
    assert "slow request" not in s.log_path.read_text()
    assert "watchdog" not in s.log_path.read_text()
