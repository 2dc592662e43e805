"""Shared by the benchmark scripts: print a result table and keep a copy in
bench/out/NAME.md (git-ignored; docs/benchmarks.md carries the figures)."""
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def publish(name, text):
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.md").write_text(text + "\n")
