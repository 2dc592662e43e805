"""End-to-end fixtures: start the real `embedrec` binary on free ports with a
temporary data directory, and talk to it over HTTP with the standard library."""
import http.client
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from contract import Contract

BIN = os.environ.get("EMBEDREC_BIN", str(Path(__file__).resolve().parents[2] / "build" / "embedrec"))
ADMIN_TOKEN = "test-admin-token-0123456789"
STRONG_PASSWORD = "SecurePass123!"


def wait_for(predicate, timeout=15.0, what="condition"):
    """Polls `predicate` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


# The logs of the servers the running test started: shown with its failure
# (pytest removes all but its last three temporary directories, so a flaky
# failure's server log is otherwise gone by the end of a run).
_test_logs = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when == "call":
        for path in _test_logs:
            try:
                report.sections.append((f"embedrec log {path.name} (last 6,000 characters)",
                                        path.read_text(errors="replace")[-6000:]))
            except OSError:
                pass


@pytest.fixture(autouse=True)
def _forget_earlier_test_logs():
    _test_logs.clear()
    yield


class Server:
    """One running embedrec process."""

    def __init__(self, data_dir, env=None, args=None):
        self.data_dir = Path(data_dir)
        self.extra_env = env or {}
        self.args = args or []
        self.proc = None
        self.ports = {}
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self):
        port_file = self.data_dir.parent / f"{self.data_dir.name}.ports.json"
        if port_file.exists():
            port_file.unlink()
        env = dict(os.environ)
        env.update({"EMBEDREC_DATA_DIR": str(self.data_dir), "EMBEDREC_GATEWAY_PORT": "0",
                    "EMBEDREC_ML_PORT": "0", "EMBEDREC_PIPELINE_PORT": "0",
                    "EMBEDREC_PORT_FILE": str(port_file), "EMBEDREC_LOG_LEVEL": "info"})
        env.update(self.extra_env)
        env = {k: v for k, v in env.items() if v is not None}  # None: a variable the server must not see
        self.log = open(self.log_path, "ab")
        if self.log_path not in _test_logs:
            _test_logs.append(self.log_path)
        self.proc = subprocess.Popen([BIN, "serve", *self.args], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"embedrec exited with {self.proc.returncode}: "
                                     f"{self.log_path.read_text()[-2000:]}")
            return port_file.exists() and port_file.read_text().strip().endswith("}")

        wait_for(ready, what="embedrec to listen")
        self.ports = json.loads(port_file.read_text())
        return self

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def request(self, method, path, body=None, token=None, port="gateway", headers=None,
                raw=None, check_contract=True):
        conn = http.client.HTTPConnection("127.0.0.1", self.ports[port], timeout=30)
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        out = Response(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                       resp.read().decode("utf-8", "replace"))
        conn.close()
        if check_contract:
            self.contract(port).check(method, path, out.status, out.headers, out.body)
        return out

    def contract(self, port="gateway"):
        """The server's declared contract (/openapi.json), fetched once."""
        if getattr(self, "_contract", None) is None:
            doc = self.request("GET", "/openapi.json", port=port, check_contract=False)
            self._contract = Contract(doc.json())
        return self._contract

    def upload(self, path, csv_bytes, token, filename="data.csv", fields=None, port="pipeline",
               query="", raw=False, headers=None):
        """POSTs CSV as multipart/form-data (default) or as a raw text/csv body."""
        hdrs = dict(headers or {})
        if raw:
            hdrs.setdefault("Content-Type", "text/csv")
            return self.request("POST", path + query, raw=csv_bytes, token=token, port=port,
                                headers=hdrs)
        boundary = "----embedrecTestBoundary7MA4YWxkTrZu0gW"
        parts = []
        for name, value in (fields or {}).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                         f'{value}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
                     + csv_bytes + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        hdrs["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        return self.request("POST", path + query, raw=b"".join(parts), token=token, port=port,
                            headers=hdrs)

    def admin(self, method, path, body=None, **kw):
        return self.request(method, path, body, token=ADMIN_TOKEN, **kw)

    # --- onboarding helpers (seed steps 1-3) ---
    def create_tenant(self, slug, name=None, settings=None):
        r = self.admin("POST", "/api/v1/admin/tenants",
                       {"name": name or slug.title(), "slug": slug, "settings": settings or {}})
        assert r.status == 201, r
        return r.json()

    def create_user(self, tenant_id, email, role="admin", password=STRONG_PASSWORD, token=ADMIN_TOKEN):
        r = self.request("POST", "/api/v1/admin/users",
                         {"email": email, "password": password, "tenant_id": tenant_id,
                          "role": role}, token=token)
        assert r.status == 201, r
        return r.json()

    def login(self, email, password=STRONG_PASSWORD):
        r = self.request("POST", "/api/v1/auth/login", {"email": email, "password": password})
        assert r.status == 200, r
        return r.json()

    def create_key(self, access_token, scopes, name="key"):
        r = self.request("POST", "/api/v1/api-keys", {"name": name, "scopes": scopes},
                         token=access_token)
        assert r.status == 201, r
        return r.json()

    def onboard(self, slug, scopes=("recommendations:read", "interactions:write")):
        """A tenant with an admin user, its access token and an API key."""
        tenant = self.create_tenant(slug)
        email = f"admin@{slug}.example.com"
        self.create_user(tenant["id"], email)
        session = self.login(email)
        key = self.create_key(session["access_token"], list(scopes))
        return {"tenant": tenant, "email": email, "session": session, "key": key,
                "jwt": session["access_token"], "api_key": key["api_key"]}


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data", env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN}).start()
    yield s
    s.stop()


@pytest.fixture
def make_server(tmp_path):
    """Factory for tests that need custom settings or restarts."""
    started = []

    def make(env=None, args=None, data_dir=None):
        s = Server(data_dir or (tmp_path / f"data{len(started)}"), env=env, args=args).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def local_services(tmp_path_factory):
    """PostgreSQL and an S3 endpoint on loopback (scripts/local-services),
    started once for the tests that use them; their variables as a dict."""
    root = Path(__file__).resolve().parents[2]
    dir = tmp_path_factory.mktemp("local-services")
    subprocess.run([str(root / "scripts" / "local-services"), "start", str(dir)], check=True,
                   stdout=subprocess.DEVNULL)
    env = dict(line.split("=", 1) for line in (dir / "env").read_text().splitlines() if "=" in line)
    yield env
    subprocess.run([str(root / "scripts" / "local-services"), "stop", str(dir)], check=False)
