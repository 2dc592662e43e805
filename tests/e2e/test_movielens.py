"""MovieLens (latest-small) imports through the public interface: the
converter subcommand, then the two upload routes. The data's licence is
non-commercial: it is used here for tests only and never committed."""
import json
import subprocess
from pathlib import Path

import pytest

from conftest import BIN

ML = Path(__file__).resolve().parents[3] / "shared" / "data" / "movielens-small"


@pytest.mark.skipif(not (ML / "ratings.csv").exists(), reason="shared/data/movielens-small absent")
def test_movielens_small_imports_completely(server, tmp_path):
    out = subprocess.run([BIN, "convert-movielens", "--in", str(ML), "--out", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    stats = json.loads(out)
    assert stats["items"] == 9742 and stats["ratings"] == 100836
    o = server.onboard("movies", scopes=["data:write"])
    r = server.upload("/api/v1/upload/items", (tmp_path / "items.csv").read_bytes(), o["api_key"],
                      filename="items.csv")
    assert r.status == 200 and r.json()["rows_accepted"] == 9742 and r.json()["rows_rejected"] == 0
    r = server.upload("/api/v1/upload/interactions", (tmp_path / "interactions.csv").read_bytes(),
                      o["api_key"], filename="interactions.csv")
    a = r.json()
    assert (a["rows_accepted"], a["rows_rejected"], a["duplicates_removed"]) == (100836, 0, 0), a
    assert a["statistics"]["unique_users"] == 610
    assert a["statistics"]["time_range"]["start"].startswith("1996-03-29")
    q = server.request("GET", "/api/v1/data/quality", token=o["api_key"]).json()
    assert q["counts"]["users"] == 610 and q["counts"]["interactions"] == 100836
    toy = server.request("GET", "/api/v1/items/1", token=o["api_key"]).json()
    assert toy["name"] == "Toy Story (1995)" and "Animation" in toy["tags"]
