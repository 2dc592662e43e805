"""The command line beside `serve`."""
import csv
import json
import subprocess

from conftest import BIN


def test_generate_shop_writes_a_seeded_shop(tmp_path):
    out = subprocess.run([BIN, "generate-shop", "--out", str(tmp_path / "a"), "--items", "200",
                          "--users", "100", "--interactions", "5000", "--seed", "7"],
                         capture_output=True, text=True, check=True).stdout
    stats = json.loads(out)
    assert stats["items"] == 200 and stats["interactions"] == 5000
    assert stats["views"] > stats["add_to_cart"] > stats["purchases"] > 0
    with open(tmp_path / "a" / "interactions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(tmp_path / "a" / "items.csv", newline="") as f:
        items = {r["item_id"] for r in csv.DictReader(f)}
    assert len(rows) == 5000 and len(items) == 200
    assert {r["item_id"] for r in rows} <= items
    subprocess.run([BIN, "generate-shop", "--out", str(tmp_path / "b"), "--items", "200",
                    "--users", "100", "--interactions", "5000", "--seed", "7"],
                   capture_output=True, check=True)
    assert (tmp_path / "a" / "interactions.csv").read_bytes() == \
        (tmp_path / "b" / "interactions.csv").read_bytes()


def test_generate_shop_rejects_bad_sizes(tmp_path):
    p = subprocess.run([BIN, "generate-shop", "--out", str(tmp_path), "--items", "0"],
                       capture_output=True, text=True)
    assert p.returncode != 0
