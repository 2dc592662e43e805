"""`embedrec train` (issue 4): the offline trainer through its command line."""
import json
import random
import subprocess

from conftest import BIN


def write_adjacency(path, users, items, per_user, seed):
    rng = random.Random(seed)
    with open(path, "w") as f:
        for u in range(users):
            half = u % 2
            picks = sorted({half * (items // 2) + rng.randrange(items // 2) for _ in range(per_user)})
            f.write(" ".join(map(str, [u] + picks)) + "\n")


def run(*args):
    return subprocess.run([BIN, "train", *args], capture_output=True, text=True, timeout=300)


def test_trains_on_adjacency_files_and_reports_json(tmp_path):
    write_adjacency(tmp_path / "all.txt", 300, 200, 14, 1)
    # Hold out one random item of each user as the test file.
    rng = random.Random(7)
    train, test = [], []
    for line in (tmp_path / "all.txt").read_text().splitlines():
        user, *items = line.split()
        held = items.pop(rng.randrange(len(items)))
        train.append(" ".join([user] + items))
        test.append(f"{user} {held}")
    (tmp_path / "train.txt").write_text("\n".join(train) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(test) + "\n")
    r = run("--train", str(tmp_path / "train.txt"), "--test", str(tmp_path / "test.txt"),
            "--format", "adjacency", "--epochs", "20", "--dim", "16", "--batch-size", "512",
            "--lr", "0.01", "--eval-every", "10", "--k", "10,20", "--no-progress")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["model"] == "lightgcn" and out["epochs"] == 20
    assert out["users"] == 300 and out["test_interactions"] == 300
    for key in ("recall@20", "ndcg@20", "precision@20", "hit_rate@10", "mrr@10", "coverage@20",
                "seconds_per_epoch", "train_seconds", "peak_rss_mb"):
        assert key in out, key
    assert [c["epoch"] for c in out["curve"]] == [10, 20]
    # Chance is 20 of ~187 unseen items (0.11); knowing the user's half gives
    # 20 of ~87 (0.23), since items within a half are drawn uniformly.
    assert out["recall@20"] > 0.18, out


def test_csv_with_min_rating_and_a_holdout(tmp_path):
    rows = ["userId,movieId,rating,timestamp"]
    rng = random.Random(3)
    for u in range(120):
        for k in range(10):
            rows.append(f"u{u},m{(u % 3) * 20 + rng.randrange(20)},{rng.choice([2, 4, 5])},{1000 + k}")
    (tmp_path / "ratings.csv").write_text("\n".join(rows) + "\n")
    model = tmp_path / "model.embr"
    r = run("--train", str(tmp_path / "ratings.csv"), "--min-rating", "4", "--holdout", "0.2",
            "--random-split", "--epochs", "5", "--dim", "8", "--eval-every", "0", "--no-progress",
            "--out", str(model))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["items"] <= 60 and out["test_interactions"] > 0 and out["epochs"] == 5
    blob = model.read_bytes()
    assert blob[:8] == b"EMBEDREC"
    # Header, the external ids, the embeddings (users and items × 8 floats) and a checksum.
    assert b"u17" in blob and b"m5" in blob
    assert len(blob) > (out["users"] + out["items"]) * 8 * 4 + 32


def test_validation_split_drives_early_stopping_not_the_test_split(tmp_path):
    write_adjacency(tmp_path / "train.txt", 200, 100, 12, 5)
    write_adjacency(tmp_path / "test.txt", 200, 100, 2, 6)
    r = run("--train", str(tmp_path / "train.txt"), "--test", str(tmp_path / "test.txt"),
            "--format", "adjacency", "--valid", "0.2", "--random-split", "--epochs", "40",
            "--eval-every", "2", "--patience", "2", "--lr", "0.05", "--dim", "8",
            "--batch-size", "256", "--no-progress")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["curve_on"] == "validation" and out["validation_interactions"] > 0
    # Stopped early on the validation curve: the kept epoch is the curve's best.
    best = max(out["curve"], key=lambda c: c["metrics"]["ndcg@10"])
    assert out["best_epoch"] == best["epoch"]
    assert out["epochs"] < 40
    assert "recall@20" in out and out["evaluated_users"] > 0


def test_trains_on_a_generated_shop_as_uploaded(tmp_path):
    """The upload format (RFC 3339 times, interaction types) trains as it is,
    with 20 % of each user's items held out. (That the held-out ones are the
    latest is checked by the unit tests of the timestamp reading and the split.)"""
    subprocess.run([BIN, "generate-shop", "--out", str(tmp_path / "shop"), "--items", "300",
                    "--users", "800", "--interactions", "20000", "--seed", "4"], check=True,
                   capture_output=True)
    r = run("--train", str(tmp_path / "shop" / "interactions.csv"), "--epochs", "10",
            "--lr", "0.005", "--dim", "16", "--eval-every", "0", "--no-progress")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["test_interactions"] > 0.15 * (out["train_interactions"] + out["test_interactions"])
    assert out["recall@20"] > 0.1, out  # 20 of 300 items by chance: ~0.07


def test_bad_input_is_refused_clearly(tmp_path):
    r = run("--train", str(tmp_path / "missing.txt"), "--format", "adjacency")
    assert r.returncode == 1 and "cannot open" in r.stderr
    (tmp_path / "bad.txt").write_text("0 1 2\n1 x 3\n")
    r = run("--train", str(tmp_path / "bad.txt"), "--format", "adjacency")
    assert r.returncode == 1 and "bad.txt:2" in r.stderr
    (tmp_path / "no_header.csv").write_text("a,b\n1,2\n")
    r = run("--train", str(tmp_path / "no_header.csv"))
    assert r.returncode == 1 and "user_id and item_id" in r.stderr
    r = run("--train", str(tmp_path / "bad.txt"), "--dim", "0")
    assert r.returncode == 1 and "embedding_dim" in r.stderr


def test_lightgcns_batch_scales_with_the_data_unless_given(tmp_path):
    """Without --batch-size, LightGCN keeps ~32 steps per epoch (its exact step
    costs about the graph, so an epoch stays linear in the data); BPR-MF and a
    given batch are as asked."""
    write_adjacency(tmp_path / "train.txt", 2000, 1000, 60, 7)  # ~116,000 pairs, 80 % trained on
    common = ("--train", str(tmp_path / "train.txt"), "--format", "adjacency", "--epochs", "1",
              "--dim", "4", "--layers", "1", "--eval-every", "0", "--no-progress")
    r = run(*common)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    pairs = out["train_interactions"]
    assert pairs > 32 * 2048  # else the floor, 2048
    scaled = -(-pairs // 32)
    assert out["batch_size"] == -(-scaled // 256) * 256, out  # rounded up to 256
    assert -(-pairs // out["batch_size"]) <= 32
    r = run(*common, "--batch-size", "1024")
    assert json.loads(r.stdout)["batch_size"] == 1024
    r = run(*common, "--model", "bpr_mf")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["batch_size"] == 2048


def test_time_budget_recipe_takes_the_sampled_softmax_unless_told_otherwise(tmp_path):
    """With --time-budget and nothing else, LightGCN trains with our recipe
    (the sampled softmax over shared negatives, L2 0.05, lr 0.01); what is
    given is kept; the softmax learns the planted halves."""
    write_adjacency(tmp_path / "train.txt", 300, 200, 14, 3)
    common = ("--train", str(tmp_path / "train.txt"), "--format", "adjacency", "--epochs", "15",
              "--dim", "16", "--eval-every", "0", "--no-progress")
    r = run(*common, "--time-budget", "60")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["loss"], out["reg"], out["learning_rate"]) == ("softmax", 0.05, 0.01), out
    assert out["softmax_negatives"] == 4096 and out["temperature"] == 1
    assert out["recall@20"] > 0.18, out  # chance ~0.11, knowing the half ~0.23
    r = run(*common, "--time-budget", "60", "--loss", "bpr", "--reg", "0.001")
    out = json.loads(r.stdout)
    assert (out["loss"], out["reg"]) == ("bpr", 0.001), out
    r = run(*common, "--loss", "softmax", "--softmax-negatives", "32", "--temperature", "0.5")
    out = json.loads(r.stdout)
    assert (out["loss"], out["softmax_negatives"], out["temperature"], out["reg"]) == (
        "softmax", 32, 0.5, 0.0001), out
    r = run(*common)
    assert json.loads(r.stdout)["loss"] == "bpr"  # the reference's loss without a budget
    r = run(*common, "--loss", "hinge")
    assert r.returncode != 0 and "--loss" in r.stderr
