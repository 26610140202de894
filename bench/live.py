"""Plumbing shared by the benches that drive a real web process: a database of their own (made and
dropped here) with Django set up on it, and gunicorn serving Chorus against it."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]


@contextlib.contextmanager
def own_database(name: str, **extra_env: str) -> Iterator[dict]:
    """Creates database `name`, points this process (and the returned env) at it, migrates, and
    drops it afterwards."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "chorus.settings.local", "DJANGO_DEBUG": "false",
           "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
           "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}", **extra_env}
    os.environ.update(env)
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", name], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield env
    finally:
        from django.db import connections

        connections.close_all()
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", name])


@contextlib.contextmanager
def gunicorn(env: dict, *, port: int, workers: int, threads: int = 4) -> Iterator[subprocess.Popen]:
    """The production web server, answering on 127.0.0.1:`port` by the time this yields."""
    web = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "chorus.wsgi", "--chdir", str(ROOT / "platform"),
                            "-w", str(workers), "-k", "gthread", "--threads", str(threads), "-b", f"127.0.0.1:{port}"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"gunicorn did not answer on port {port}")
        yield web
    finally:
        web.terminate()
        web.wait()
