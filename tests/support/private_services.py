"""Private PostgreSQL and Redis servers, and a live gunicorn, for tests that stop and restart them.

The shared servers (PostgreSQL on 5432, Redis on 6379) are never touched: each fault test starts
its own server on a free port, in a temporary folder, and stops it when done. Everything here waits
by polling with generous deadlines, so a loaded two-core machine is slow, not flaky.
"""
from __future__ import annotations

import glob
import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], *, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


class PrivateRedis:
    """redis-server on its own port, persisting to an append-only file as in docker-compose.yml, so a
    restart keeps what was queued."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always"],
            stdout=open(self.folder / "redis.log", "a"), stderr=subprocess.STDOUT,
        )
        wait_for(lambda: port_open(self.port), timeout=30, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
        wait_for(lambda: not port_open(self.port), timeout=30, what=f"redis-server on {self.port} to stop")


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: [int(n) for n in re.findall(r"\d+", Path(p).parent.parent.name)])
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class PrivatePostgres:
    """A throwaway cluster (initdb) on its own port; as root it runs as the `postgres` user, since
    PostgreSQL refuses to run as root."""

    def __init__(self, binaries: Path) -> None:
        # Its own folder under the system's temporary directory: pytest's are private to the user
        # running the tests, and as root the server runs as `postgres`.
        self.folder, self.bin, self.port = Path(tempfile.mkdtemp(prefix="chorus-pg-")), binaries, free_port()
        self.data = self.folder / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.folder, "postgres")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=180)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args[:1])} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def remove(self) -> None:
        """Stops the server if it runs, and deletes its folder."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=120)
        shutil.rmtree(self.folder, ignore_errors=True)

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self.start()

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "postgres.log"), "-w",
                  "-t", "120", "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "120", "stop")

    def createdb(self, name: str) -> None:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)


def chorus_env(*, database_url: str, redis_url: str, secret_key: str = "fault-tests-" + "x" * 50) -> dict[str, str]:
    """The environment of a Chorus process (web, worker, beat, manage.py) with this checkout's code,
    in the run command's settings (persistent database connections, DEBUG off). Give the tests'
    secret key for links that the test process signs (join links)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chorus.settings.local",
        "DJANGO_SECRET_KEY": secret_key,
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "platform")]),
    }


def manage(env: dict[str, str], *args: str, timeout: float = 600) -> None:
    subprocess.run([sys.executable, str(REPO_ROOT / "manage.py"), *args], env=env, check=True, cwd=REPO_ROOT,
                   capture_output=True, timeout=timeout)


def start_web(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn as platform/scripts/run.sh starts it (one process here), and its base URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "chorus.wsgi", "--chdir", str(REPO_ROOT / "platform"), "-k", "gthread",
         "--threads", "8", "-w", "1", "-b", f"127.0.0.1:{port}", "--timeout", "120"],
        env=env, cwd=REPO_ROOT, stdout=open(log, "a"), stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log}")
        try:
            urllib.request.urlopen(base + "/", timeout=5).close()
            return True
        except (urllib.error.URLError, OSError):
            return False

    wait_for(answers, timeout=120, what="gunicorn to answer", interval=0.5)
    return proc, base


def start_celery(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """`celery -A chorus <args>` (a worker or beat) in the background."""
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "chorus", *args], env=env,
                            cwd=REPO_ROOT / "platform", stdout=open(log, "a"), stderr=subprocess.STDOUT)


class Browser:
    """A cookie-keeping HTTP client that reads the status and body of every answer, errors included."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, str, dict]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), dict(exc.headers)

    def csrf(self, path: str) -> str:
        _, html, _ = self.request(path)
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
