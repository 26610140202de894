"""Imports a synthetic preference file of 1,000,000 rows with `manage.py import_preferences` in a
child process; prints rows/s and the child's peak RSS. Target: peak RSS < 500 MB (the import streams:
it holds one row at a time, plus a count per annotator).

    .venv/bin/python bench/import_preferences.py [--rows 1000000] [--users 5000] [--gzip]

Uses its own database (chorus_bench_import) and a temporary media folder, both removed afterwards.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from live import ROOT, own_database

DB = "chorus_bench_import"
WORDS = ("the of and to in is you that it he was for on are as with his they at be this have from or one had by "
         "word but not what all were we when your can said there use an each which she do how their if will up "
         "other about out many then them these so some her would make like him into time has look two more").split()


def write_rows(path: Path, *, rows: int, users: int, compress: bool) -> None:
    rng = random.Random(0)

    def text(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8") as f:
        for i in range(rows):
            chosen, rejected = text(30), text(30)
            f.write(json.dumps({"user": f"annotator-{rng.randrange(users)}", "prompt": f"Human: {text(20)} ({i})",
                                "chosen": chosen, "rejected": rejected + " (worse)"}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--gzip", action="store_true", help="write and read the file gzipped")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chorus-bench-import-") as tmp:
        data = Path(tmp) / ("synthetic.jsonl.gz" if args.gzip else "synthetic.jsonl")
        started = time.perf_counter()
        write_rows(data, rows=args.rows, users=args.users, compress=args.gzip)
        print(f"wrote {args.rows:,} rows ({data.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - started:.1f} s")
        with own_database(DB, CHORUS_VAR_DIR=str(Path(tmp) / "var")) as env:
            started = time.perf_counter()
            done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "import_preferences", str(data),
                                   "--name", "bench import"], env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - started
        if done.returncode:
            sys.exit(f"import failed:\n{done.stderr}")
        print(done.stdout.splitlines()[0])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child: the import
        print(f"imported {args.rows:,} rows in {seconds:.1f} s: {args.rows / seconds:,.0f} rows/s "
              f"(two passes: check, then write), peak RSS {peak_mb:,.0f} MB (target < 500 MB)")


if __name__ == "__main__":
    main()
