"""The floor under bench/load.py's targets: how many acknowledged writes per second this machine
serves, and how fast, when a request does nothing but write one row, measured side by side in
one run. If the floor cannot meet the targets, no page that does more can.

    .venv/bin/python bench/load_floor.py [--seconds 20] [--users 200] [--rate 300]

Two apps (bench/load_floor_app.py) behind gunicorn as `platform/scripts/run.sh` starts it
(`-k gthread -w 2 --threads 8`), each answering POST /write/ with one INSERT and a 204:
- `bare WSGI + psycopg`: no framework;
- `Django, Chorus's settings`: Chorus's middleware and database settings, one view, one INSERT in
  a transaction (a participant's real write also reads the session and the participant, checks
  the CSRF token, runs its service's queries and renders or redirects).
Each is loaded twice by Locust (headless, the same 2 cores): at the target rate (`--rate` writes/s
offered, shared among `--users`), then flat out (every user posting again as soon as answered).
It prints writes/s, p50/p95/p99 and errors (from when every user has started), the rows written in
all, and the CPU per row in the web workers, PostgreSQL and the load generator.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from live import ROOT, own_database
from load import BIN, DB, DatabaseCpu, _children, _children_cpu, _cpu_seconds, _load, _wait_for

# Users start over this many seconds (started at once, they would post in step, in bursts of all
# of them), and the figures count from when the last has started (Locust's --reset-stats).
RAMP_SECONDS = 4
APPS = {"bare WSGI + psycopg": "load_floor_app:bare", "Django, Chorus's settings": "load_floor_app:django()"}


def count_rows() -> int:
    """Rows written since the last call: every one was a 204 (or a request cut off at the end)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("WITH gone AS (DELETE FROM load_floor RETURNING 1) SELECT count(*) FROM gone")
        return cursor.fetchone()[0]


def one_run(app: str, *, rate: float, args, env: dict, workdir: Path) -> dict:
    """gunicorn serving `app`, Locust against it for `args.seconds`; the figures of the run."""
    web = subprocess.Popen(
        [str(BIN / "gunicorn"), app, "--chdir", str(ROOT / "bench"), "-k", "gthread", "-w", "2", "--threads", "8",
         "-b", f"127.0.0.1:{args.port}"],
        env={**env, "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT / 'bench'}:{ROOT}"},
        stdout=open(workdir / "web.log", "a"), stderr=subprocess.STDOUT)
    try:
        _wait_for(f"http://127.0.0.1:{args.port}/write/", web)
        web_cpu, client_cpu = _cpu_seconds(_children(web.pid)), _children_cpu()
        database = DatabaseCpu()
        database.start()
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "bench/load_floor_user.py"), "--headless",
             "-u", str(args.users), "-r", str(args.users / RAMP_SECONDS), "--reset-stats",
             "-t", f"{args.seconds + RAMP_SECONDS}s", "--stop-timeout", "5",
             "--host", f"http://127.0.0.1:{args.port}", "--csv", str(workdir / "floor"), "--only-summary",
             "--loglevel", "WARNING", "--exit-code-on-error", "0"],
            env={**env, "LOAD_RATE": str(rate), "LOAD_USERS": str(args.users)}, cwd=workdir, check=True,
            stdout=open(workdir / "locust.log", "a"), stderr=subprocess.STDOUT)
        web_cpu = _cpu_seconds(_children(web.pid)) - web_cpu
        client_cpu, db_cpu = _children_cpu() - client_cpu, database.stop()
    finally:
        web.terminate()
        web.wait()
    with open(workdir / "floor_stats.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "POST write")
    rows = count_rows()
    # Locust's own rate: requests over the time since every user had started (--reset-stats).
    return {"rows": rows, "errors": int(row["Failure Count"]), "rate": float(row["Requests/s"]),
            "p50": row["50%"], "p95": row["95%"], "p99": float(row["99%"] or 0),
            "cpu": {"web": web_cpu, "PostgreSQL": db_cpu, "Locust": client_cpu}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="how long each load runs")
    parser.add_argument("--users", type=int, default=200, help="Locust users at once")
    parser.add_argument("--rate", type=float, default=300, help="writes/s offered in the first load (the target)")
    parser.add_argument("--port", type=int, default=8792)
    args = parser.parse_args()
    print(f"load average before: {_load()}; {os.cpu_count()} CPUs; {args.users} users, {args.seconds} s a load")
    print(f"{'app':<28}{'offered':>10}{'writes/s':>10}{'errors':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
          f"{'rows':>8}   CPU per row (ramp included): web / PostgreSQL / Locust")
    with own_database(DB) as env, tempfile.TemporaryDirectory(prefix="chorus-floor-") as tmp:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE load_floor (id bigserial PRIMARY KEY, at timestamptz NOT NULL)")
        for name, app in APPS.items():
            for rate in (args.rate, 0):
                r = one_run(app, rate=rate, args=args, env=env, workdir=Path(tmp))
                per = " / ".join(f"{1000 * s / max(r['rows'], 1):.2f}" for s in r["cpu"].values())
                print(f"{name:<28}{(f'{rate:.0f}/s' if rate else 'flat out'):>10}{r['rate']:>10.0f}"
                      f"{r['errors']:>8}{r['p50']:>8}{r['p95']:>8}{r['p99']:>8.0f}"
                      f"{r['rows']:>8}   {per} ms",
                      flush=True)
    print(f"load average after: {_load()}. Targets (bench/load.py): p99 <= 150 ms at >= 300 writes/s.")


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT / "bench"))
    main()
