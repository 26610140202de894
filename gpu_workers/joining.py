"""Another host's share of a multi-host run (config nnodes > 1). The run's first worker holds the
run, rank 0 and everything that talks to Chorus (gpu_workers/executor.py); it records where the hosts
meet and queues one `run_join` task per other host. A GPU worker that takes one:

    takes a node rank (training.services.runs.run_join_claim; none left: the task is a no-op)
    fetches the run's inputs like the first host, starts torchrun with that node rank at the rendezvous
    watches the run: once it is no longer running in this attempt (cancelled, failed, done), or this
    host's processes fail, it ends them; a failure is written to the run's log, and the first host,
    whose collectives break, fails the run. A failure once the run has succeeded (torchrun here losing
    the first host's rendezvous store as that host finishes) is noted, not counted
"""
from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import replace

from django.conf import settings
from django.db import connection

from gpu_workers.devices import best_device, free_memory
from gpu_workers.executor import HEARTBEAT_SECONDS, _reason, inputs_fetch, placement_of
from gpu_workers.launcher import ranks_train
from training.configs import config_validate, launch_of
from training.methods.common.contract import RunCancelled
from training.services import runs as run_services
from training.services.runs import Claim
from training.storage import run_dir

log = logging.getLogger(__name__)

# How long a host whose processes failed waits to see whether the run itself ended well.
LATE_FAILURE_SECONDS = 60


class _RunLog:
    """Hooks for a joined host: its ranks are never rank 0, so only its own lines reach the run."""

    def __init__(self, claim: Claim, prefix: str) -> None:
        self.claim, self.prefix = claim, prefix

    def progress(self, fraction: float, *, stage: str) -> None:
        pass

    def metrics(self, step, values) -> None:  # type: ignore[no-untyped-def]
        pass

    def log(self, message: str) -> None:
        run_services.run_log(claim=self.claim, message=f"{self.prefix}: {message}")

    def check_cancelled(self) -> None:
        pass


def _watch(claim: Claim, stop: threading.Event, finished: threading.Event) -> None:
    try:
        while not finished.wait(HEARTBEAT_SECONDS):
            try:
                if not run_services.run_is_held(claim=claim):
                    stop.set()
                    return
            except Exception:  # a database blip: look again at the next beat
                log.exception("could not look at run %s", claim.run_id)
                connection.close()
    finally:
        connection.close()


def _ended_well(claim: Claim) -> bool:
    """Whether this attempt of the run succeeded, waiting up to LATE_FAILURE_SECONDS for it to end.
    torchrun on a host without rank 0 can exit with an error once the first host has finished and
    closed the rendezvous store under it; if the run succeeded, that host's share was done."""
    deadline = time.monotonic() + LATE_FAILURE_SECONDS
    while run_services.run_is_held(claim=claim) and time.monotonic() < deadline:
        time.sleep(1)
    return run_services.run_succeeded_in(claim=claim)


def execute_join(run_id: int, *, worker: str) -> str:
    """'skipped' when there is no rank to take; else 'done', 'stopped' (the run ended first) or 'failed'."""
    taken = run_services.run_join_claim(run_id=run_id, worker=worker)
    if taken is None:
        return "skipped"
    run, seat = taken
    hooks = _RunLog(seat.claim, f"host {seat.node_rank} ({worker})")
    device = best_device()
    stop, finished = threading.Event(), threading.Event()
    watcher = threading.Thread(target=_watch, args=(seat.claim, stop, finished), daemon=True,
                               name=f"join-run-{run.pk}")
    watcher.start()
    folder = run_dir(run.uuid) / f"ranks-{seat.claim.attempt}-host-{seat.node_rank}"
    try:
        config = config_validate(run.method, run.config)
        placement = replace(placement_of(launch_of(run.config), config=config), node_rank=seat.node_rank,
                            rendezvous=seat.rendezvous, rendezvous_timeout=settings.CHORUS_RENDEZVOUS_TIMEOUT)
        inputs = inputs_fetch(run, device=device, output_dir=folder / "unused-output", log=hooks.log)
        ranks_train(method=run.method, config=config, inputs=inputs,
                    placement=placement, folder=folder, hooks=hooks, stop=stop, why=lambda: "the run ended")
        return "done"
    except RunCancelled:
        return "stopped"
    except Exception as exc:
        if _ended_well(seat.claim):
            log.warning("run %s, host %s: its processes ended with an error after the run had succeeded (%s); "
                        "nothing was lost", run.pk, seat.node_rank, exc)
            return "done"
        hooks.log(f"failed: {_reason(exc, device, run.method)}")
        return "failed"
    finally:
        finished.set()
        watcher.join()
        shutil.rmtree(folder, ignore_errors=True)
        free_memory(device)
