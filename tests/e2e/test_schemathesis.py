"""Schemathesis (PyPI) against the served /openapi.json, with the stateful
phase following the links it infers between operations: every answer must
match the document, no schema-valid request may be refused as malformed
(400) and no request may make the server fail (5xx). The checks' settings
are in tests/schemathesis/schemathesis.toml; docs/security.md (API9)."""
import os
import subprocess
import sys
from pathlib import Path

from conftest import BIN
from test_training import shop_csvs

VERSION = "schemathesis==4.32.5"
SCOPES = ["recommendations:read", "interactions:write", "data:write", "models:train", "models:read",
          "analytics:read"]


def schemathesis():
    """Its own virtual environment beside the build (never the system's)."""
    venv = Path(BIN).resolve().parent / "schemathesis-venv"
    exe = venv / "bin" / "schemathesis"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", VERSION], check=True)
    return exe


def test_schemathesis_finds_no_failure(server):
    exe = schemathesis()
    o = server.onboard("schema", scopes=SCOPES)
    items, interactions = shop_csvs()
    assert server.upload("/api/v1/upload/items", items, o["api_key"]).status == 200
    assert server.upload("/api/v1/upload/interactions", interactions, o["api_key"]).status == 200
    config = Path(__file__).resolve().parents[1] / "schemathesis" / "schemathesis.toml"
    seconds = os.environ.get("EMBEDREC_SCHEMATHESIS_SECONDS", "60")
    run = subprocess.run(
        [str(exe), "--config-file", str(config), "run", f"http://127.0.0.1:{server.ports['gateway']}/openapi.json",
         "-H", f"Authorization: Bearer {o['api_key']}", "--max-time", seconds, "-w", "1", "--seed", "1"],
        capture_output=True, text=True, timeout=int(seconds) + 300, cwd=exe.parent.parent)  # its cache beside it
    # A failing case's reproduction can be a curl line of megabytes: each
    # line is shortened so that the check that failed stays in the message.
    report = "\n".join(line if len(line) < 400 else f"{line[:400]}… ({len(line)} characters)"
                       for line in run.stdout.splitlines())
    assert run.returncode == 0, report[-8000:] + run.stderr[-2000:]
    assert "Stateful" in run.stdout and " passed" in run.stdout, run.stdout[-3000:]
    # The server is still healthy after it.
    assert server.request("GET", "/readyz").status == 200
