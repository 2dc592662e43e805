"""Shared by the benchmark scripts: start the real embedrec binary on free
ports with its own data directory, and call its JSON API."""
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


def start(work, name="data", extra_env=None):
    """Starts `embedrec serve` with data in work/name; returns (process, ports)."""
    port_file = Path(work) / f"{name}.ports.json"
    port_file.unlink(missing_ok=True)
    env = dict(os.environ, EMBEDREC_DATA_DIR=str(Path(work) / name), EMBEDREC_ADMIN_TOKEN=ADMIN,
               EMBEDREC_GATEWAY_PORT="0", EMBEDREC_ML_PORT="0", EMBEDREC_PIPELINE_PORT="0",
               EMBEDREC_PORT_FILE=str(port_file), EMBEDREC_LOG_LEVEL="warn", **(extra_env or {}))
    proc = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
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


def peak_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
