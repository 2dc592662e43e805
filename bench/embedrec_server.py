"""Shared by the benchmark scripts: start the real embedrec binary on free
ports with its own data directory, call its JSON API, and start nginx as
the reference static server."""
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("EMBEDREC_BIN", str(ROOT / "build" / "embedrec"))
ADMIN = "bench-admin-token-0123456789"
# Every scope a tenant's key may hold.
ALL_SCOPES = ["data:write", "models:train", "models:read", "recommendations:read", "interactions:write",
              "analytics:read"]


def start(work, name="data", extra_env=None, bin=None):
    """Starts `embedrec serve` (`bin`, default BIN) with data in work/name;
    returns (process, ports)."""
    port_file = Path(work) / f"{name}.ports.json"
    port_file.unlink(missing_ok=True)
    env = dict(os.environ, EMBEDREC_DATA_DIR=str(Path(work) / name), EMBEDREC_ADMIN_TOKEN=ADMIN,
               EMBEDREC_GATEWAY_PORT="0", EMBEDREC_ML_PORT="0", EMBEDREC_PIPELINE_PORT="0",
               EMBEDREC_PORT_FILE=str(port_file), EMBEDREC_LOG_LEVEL="warn", **(extra_env or {}))
    # EMBEDREC_BENCH_LOG=1: the server's log at info in work/name.log (for post-mortems).
    log = subprocess.DEVNULL
    if os.environ.get("EMBEDREC_BENCH_LOG"):
        env["EMBEDREC_LOG_LEVEL"] = "info"
        log = open(Path(work) / f"{name}.log", "ab")
    proc = subprocess.Popen([bin or BIN, "serve"], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while not (port_file.exists() and port_file.read_text().strip().endswith("}")):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            sys.exit("embedrec did not start")
        time.sleep(0.05)
    return proc, json.loads(port_file.read_text())


def call(port, method, path, body=None, token=None, raw=None, ctype="application/json"):
    """One request; the decoded JSON answer (HTTP errors raise)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data)
    req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def wait_job(port, key, job, poll_s=0.05, deadline_s=3600):
    """Polls a training job's progress until it ends (at poll_s granularity)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        p = call(port, "GET", job["progress_url"], token=key)
        if p["status"] in ("completed", "failed", "cancelled"):
            return p
        time.sleep(poll_s)
    raise RuntimeError("training did not finish")


def rss_mb(pid, field="VmRSS"):
    """A process's memory in MB as /proc/<pid>/status counts it: VmRSS
    resident, VmHWM its peak, RssAnon the heap, RssFile mapped files (the
    databases' pages the kernel may drop)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb(pid):
    return rss_mb(pid, "VmHWM")


def metric_value(port, name):
    """The first series of `name` in the server's /metrics (read as the
    platform admin); 0 when absent."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        for line in r.read().decode().splitlines():
            if line.startswith((name + " ", name + "{")):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


NGINX_CONF = """
worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}/ngx-body;
  proxy_temp_path {work}/ngx-proxy;
  fastcgi_temp_path {work}/ngx-fcgi;
  uwsgi_temp_path {work}/ngx-uwsgi;
  scgi_temp_path {work}/ngx-scgi;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    root {www};
    default_type application/json;
  }}
}}
"""


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(work, www, probe):
    """nginx serving the files in `www` (work must be readable by its workers);
    returns (process, port) once `probe` (a file name) is served."""
    import shutil
    port = free_port()
    conf = Path(work) / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, port=port, www=www))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/{probe}").read()
            return proc, port
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                log = Path(work) / "nginx-error.log"
                sys.exit("nginx did not start: " + (log.read_text()[-500:] if log.exists() else ""))
            time.sleep(0.05)


def tenant_key(port, slug, scopes, settings=None):
    """A new tenant and an API key of it with `scopes`; returns (tenant, key)."""
    t = call(port, "POST", "/api/v1/admin/tenants",
             {"name": slug, "slug": slug, "settings": settings or {}}, ADMIN)
    key = call(port, "POST", "/api/v1/api-keys", {"name": "k", "scopes": scopes, "tenant_id": t["id"]},
               ADMIN)["api_key"]
    return t, key


def upload_file(port, path, token, csv_path):
    """Streams a CSV from disk to an upload route (never whole in this
    process's memory); the decoded answer."""
    import http.client
    size = csv_path.stat().st_size
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    c.putrequest("POST", path)
    c.putheader("Authorization", f"Bearer {token}")
    c.putheader("Content-Type", "text/csv")
    c.putheader("Content-Length", str(size))
    c.endheaders()
    with open(csv_path, "rb") as f:
        while chunk := f.read(1 << 20):
            c.send(chunk)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        sys.exit(f"upload failed: {r.status} {data[:300]!r}")
    return json.loads(data)


def generated_shop_tenant(work, ports, slug, scopes, items=10000, users=5000, interactions=150000):
    """A new tenant with a shop made by `generate-shop` (written once, into
    work/shop) uploaded; returns (tenant, key)."""
    shop = Path(work) / "shop"
    if not (shop / "interactions.csv").exists():
        subprocess.run([BIN, "generate-shop", "--out", str(shop), "--items", str(items), "--users", str(users),
                        "--interactions", str(interactions)], check=True, capture_output=True)
    t, key = tenant_key(ports["gateway"], slug, scopes)
    upload_file(ports["pipeline"], "/api/v1/upload/items", key, shop / "items.csv")
    upload_file(ports["pipeline"], "/api/v1/upload/interactions", key, shop / "interactions.csv")
    return t, key


def wrk(url, connections, duration, env):
    """wrk on `url`; with env["BENCH_KEY"] (or BENCH_REQUESTS), through
    bench/recommend.lua (BENCH_N, BENCH_KIND, BENCH_OUT), whose summary it
    returns with req/s."""
    out = Path(env["BENCH_OUT"])
    scripted = env.get("BENCH_KEY") or env.get("BENCH_REQUESTS")
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if scripted:
        cmd += ["-s", str(ROOT / "bench" / "recommend.lua")]
    subprocess.run(cmd + [url], env={**os.environ, **env}, check=True, capture_output=True)
    if not scripted:
        return None
    r = json.loads(out.read_text())
    r["rps"] = r["requests"] / r["seconds"]
    return r
