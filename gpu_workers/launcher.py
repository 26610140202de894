"""Training a run in several processes: the worker starts torchrun (python -m torch.distributed.run)
with the method's processes as its children, and stays the one process that talks to Chorus.

    worker ── torchrun (own process group) ──┬── rank 0: training/methods/common/rank.py, the writer
       ▲                                     └── rank 1 ...
       └──── tails <folder>/events.jsonl: progress, metrics, log lines, pids, errors, the result

Progress, metrics and log lines come from rank 0 only and go through the run's hooks, so the run
reports once per step. The worker ends every process when the run is cancelled (its heartbeat
noticed), when a process dies (torchrun then stops the others; the reason becomes the run's error),
and whatever else happens: torchrun's group and each rank's own session (torchrun starts every rank
in a session of its own) are signalled, so no process outlives the run. No Django here.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.methods.common.contract import Hooks, RunCancelled, RunInputs, RunResult

REPO_ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0  # after SIGTERM, how long processes get before SIGKILL


class RankFailed(Exception):
    """A training process died, or the processes could not meet; the message says which and why."""


@dataclass(frozen=True)
class Placement:
    """Where this worker's processes sit in the run: `processes` on each of `nnodes` hosts, this host
    being `node_rank`; hosts meet at `rendezvous` (host:port) when there are several."""

    processes: int
    nnodes: int = 1
    node_rank: int = 0
    rendezvous: str = ""
    rendezvous_timeout: int = 60


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def torchrun_command(placement: Placement, spec: Path) -> list[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={placement.processes}",
           "--max-restarts=0", "--monitor-interval=0.5"]
    if placement.nnodes == 1:
        cmd.append("--standalone")  # a rendezvous on a free local port: runs on one host never collide
    else:  # torchrun's static rendezvous: node ranks are given, so global rank 0 is on the first host
        cmd += [f"--nnodes={placement.nnodes}", f"--node-rank={placement.node_rank}",
                f"--rdzv-endpoint={placement.rendezvous}", f"--rdzv-conf=timeout={placement.rendezvous_timeout}"]
    return cmd + ["-m", "training.methods.common.rank", str(spec)]


def ranks_train(*, method: str, config: Any, inputs: RunInputs, placement: Placement, folder: Path, hooks: Hooks,
                stop: threading.Event, why: Callable[[], str]) -> RunResult:
    """Runs the method's `train` in every process of this host and returns rank 0's result (empty on
    a host without rank 0). Raises RunCancelled once `stop` is set, RankFailed when a process fails."""
    folder.mkdir(parents=True, exist_ok=True)
    spec, events = folder / "spec.pickle", folder / "events.jsonl"
    events.write_text("")
    # The method's own config and inputs dataclasses, as they are: this worker's code reads them back.
    spec.write_bytes(pickle.dumps({"method": method, "config": config, "inputs": inputs, "events": str(events),
                                   "worker_pid": os.getpid()}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    with open(folder / "torchrun.log", "wb") as log:
        proc = subprocess.Popen(torchrun_command(placement, spec), cwd=REPO_ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    tail = _Tail(events, hooks)
    try:
        while proc.poll() is None:
            tail.read()
            if stop.is_set():
                raise RunCancelled(why())
            time.sleep(POLL_SECONDS)
        tail.read()
    finally:
        _end(proc, tail.pids, spec)
    if proc.returncode == 0 and (tail.result is not None or placement.node_rank > 0):
        return tail.result or RunResult(metrics={})
    log = (folder / "torchrun.log").read_text(errors="replace")
    printed, report = _split_report(log)
    if printed:
        hooks.log("the processes' last lines:\n" + "\n".join(printed[-10:]))
    hooks.log("torchrun's last lines:\n" + "\n".join(report[-15:]))
    raise _failure(tail, placement, log)


class _Tail:
    """Reads the whole lines appended to the events file since the last read and acts on them."""

    def __init__(self, path: Path, hooks: Hooks) -> None:
        self.path, self.hooks, self.offset = path, hooks, 0
        self.pids: set[int] = set()
        self.errors: list[dict] = []
        self.result: RunResult | None = None

    def read(self) -> None:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        whole = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(whole)
        for line in whole.decode().splitlines():
            self._act(json.loads(line))

    def _act(self, event: dict) -> None:
        if "progress" in event:
            self.hooks.progress(event["progress"], stage=event["stage"])
        elif "metrics" in event:
            self.hooks.metrics(event["step"], event["metrics"])
        elif "log" in event:
            self.hooks.log(event["log"])
        elif "started" in event:
            self.pids.add(event["pid"])
        elif "error" in event:
            self.errors.append(event)
        elif "result" in event:
            self.result = RunResult(metrics=event["result"]["metrics"], summary=event["result"]["summary"])


def _end(proc: subprocess.Popen, pids: set[int], spec: Path) -> None:
    """SIGTERM to torchrun's group and to every rank's session, SIGKILL to what is left after the grace.
    A rank is signalled only while its command line still names this run's spec: a pid is never
    mistaken for a process that took it over."""
    _stop(proc, pids, spec, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while (proc.poll() is None or any(_runs(pid, spec) for pid in pids)) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    _stop(proc, pids, spec, signal.SIGKILL)
    proc.wait()


def _stop(proc: subprocess.Popen, pids: set[int], spec: Path, sig: signal.Signals) -> None:
    groups = [pid for pid in pids if _runs(pid, spec)] + ([proc.pid] if proc.poll() is None else [])
    for group in groups:  # torchrun and each rank lead a process group of their own
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            pass  # gone meanwhile


def _runs(pid: int, spec: Path) -> bool:
    """Whether `pid` is a live training process of this run (Linux: its command line names the spec)."""
    try:
        return str(spec) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace") and \
            Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _failure(tail: _Tail, placement: Placement, log: str) -> Exception:
    """The reason a curator reads: the process torchrun saw fail first (its "Root Cause"), with its own
    error when it wrote one, or how it died; the others' errors (a peer gone) only follow from it."""
    own = {e["rank"]: e for e in sorted(tail.errors, key=lambda e: -e["rank"])}
    root = re.search(r"Root Cause.*?rank\s*:\s*(\d+) \(local_rank: \d+\)\s*\n\s*exitcode\s*:\s*(-?\d+)", log, re.S)
    rank, code = (int(root.group(1)), int(root.group(2))) if root else (None, 0)
    if rank in own:
        return _error_of(own[rank])
    if rank is not None and code < 0:
        return RankFailed(f"training process rank {rank} was killed by {signal.Signals(-code).name}; "
                          "torchrun stopped the others")
    if own:
        return _error_of(own[min(own)])
    if not tail.pids and placement.nnodes > 1:
        return RankFailed(
            f"config.nnodes is {placement.nnodes}, but not every host joined the rendezvous at "
            f"{placement.rendezvous} within {placement.rendezvous_timeout} s; check that as many GPU workers are "
            f"free and can reach that address (CHORUS_RENDEZVOUS_HOST). {_last_line(log)}")
    if rank is not None:
        return RankFailed(f"training process rank {rank} exited with code {code}; torchrun stopped the others")
    return RankFailed(f"torchrun failed: {_last_line(log)}")


def _error_of(event: dict) -> Exception:
    if event["out_of_memory"]:  # raised again as itself: the worker's reason adds the method's hint
        import torch

        return torch.OutOfMemoryError(event["error"].split(": ", 1)[-1])
    return RankFailed(f"training process rank {event['rank']} failed: {event['error']}")


def _split_report(log: str) -> tuple[list[str], list[str]]:
    """torchrun's log as what the processes printed (a C++ abort's last words, a traceback) and what
    torchrun itself reported once a process ended (its agent's lines, then the failure summary)."""
    lines = log.splitlines()
    agent = next((i for i, line in enumerate(lines) if "torch/distributed/elastic/" in line), len(lines))
    return lines[:agent], lines[agent:]


def _last_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"
