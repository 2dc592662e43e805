"""/metrics scraped by a real Prometheus (issue 18): Debian's prometheus,
started by the test on loopback, finds the target up and our series there —
the exposition format is what Prometheus parses, not only what our tests
read."""
import json
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

from conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(port, promql):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())["data"]["result"]
    except OSError:
        return None


def test_prometheus_scrapes_the_metrics(server, tmp_path):
    subprocess.run([str(ROOT / "scripts" / "install-deps"), "--prometheus"], check=True)
    for _ in range(3):
        assert server.request("GET", "/healthz").status == 200
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: embedrec
    static_configs:
      - targets: ["127.0.0.1:{server.ports['gateway']}"]
""")
    prom = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "w"))
    try:
        up = wait_for(lambda: (lambda r: r if r and r[0]["value"][1] == "1" else None)(query(port, 'up{job="embedrec"}')),
                      timeout=60, what="Prometheus to scrape embedrec")
        assert up[0]["metric"]["instance"] == f"127.0.0.1:{server.ports['gateway']}"
        series = wait_for(lambda: query(port, 'embedrec_http_requests_total{route="/healthz"}'), timeout=30,
                          what="our request counter in Prometheus")
        assert float(series[0]["value"][1]) >= 3
        buckets = query(port, 'embedrec_http_request_duration_seconds_bucket{route="/healthz"}')
        assert buckets and any(b["metric"]["le"] == "+Inf" for b in buckets)
        # The samples of a scrape, as Prometheus kept them.
        failed = query(port, 'scrape_samples_post_metric_relabeling{job="embedrec"}')
        assert failed and float(failed[0]["value"][1]) > 10
    finally:
        prom.terminate()
        prom.wait(timeout=30)
