"""Runs one training run on this worker: claim it, keep its heartbeat, run its method, publish the
model atomically, and record how it ended. Whatever the method raises, the worker lives on.

    claim (queued -> running, attempt + 1)
      heartbeat thread: every HEARTBEAT_SECONDS, beat and look for a cancel request
      method.train(inputs, config, hooks)   checkpoints in runs/<uuid>/work/, model in a staging folder;
        with several processes (config processes x nnodes > 1), under torchrun: gpu_workers/launcher.py
      model card + sha256 of every file, then one rename to models/<run uuid>/ (or a verified copy in
      the bucket: training.object_store), then one transaction
    succeeded | failed (with the reason) | cancelled
"""
from __future__ import annotations

import errno
import logging
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from gpu_workers.devices import best_device, describe_device, free_memory, gpu_count, supports_bf16
from gpu_workers.launcher import Placement, RankFailed, free_port, ranks_train
from training import object_store
from training.base_models import base_model_fetch
from training.configs import Launch, config_validate, launch_of, launch_problem, method_module
from training.methods.common.contract import RunCancelled, RunInputs, TrainingDiverged
from training.model_cards import model_card_render
from training.models import TrainingRun
from training.policy_server import policy_server
from training.services import runs as run_services
from training.services.runs import Claim
from training.storage import (
    checkpoints_drop,
    checkpoints_pull,
    model_dir,
    model_publish,
    run_dir,
    sha256_file,
    target_file_local,
)

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0  # also how quickly a cancel request is noticed
PROGRESS_EVERY_SECONDS = 1.0  # progress is reported per step; the database sees at most this rate
CHECKPOINT_SYNC_SECONDS = 10.0  # with a bucket: how often finished checkpoints are uploaded


@dataclass
class _RunState:
    """Per-run state, shared by the training thread and the heartbeat thread."""

    claim: Claim
    stop: threading.Event = field(default_factory=threading.Event)  # cancelled, or the run is no longer ours
    why: str = ""
    finished: threading.Event = field(default_factory=threading.Event)
    last_write: float = 0.0
    last_stage: str = ""


class _Hooks:
    def __init__(self, state: _RunState) -> None:
        self.state = state

    def progress(self, fraction: float, *, stage: str) -> None:
        now = time.monotonic()
        if stage != self.state.last_stage or now - self.state.last_write >= PROGRESS_EVERY_SECONDS:
            run_services.run_progress(claim=self.state.claim, fraction=fraction, stage=stage)
            self.state.last_write, self.state.last_stage = now, stage

    def metrics(self, step: int, values) -> None:  # type: ignore[no-untyped-def]
        run_services.run_metric_add(claim=self.state.claim, step=step, values=values)

    def log(self, message: str) -> None:
        log.info("run %s: %s", self.state.claim.run_id, message)
        run_services.run_log(claim=self.state.claim, message=message)

    def check_cancelled(self) -> None:
        if self.state.stop.is_set():
            raise RunCancelled(self.state.why)


def _heartbeat(state: _RunState) -> None:
    try:
        while not state.finished.wait(HEARTBEAT_SECONDS):
            try:
                verdict = run_services.run_heartbeat(claim=state.claim)
            except Exception:  # a database blip: keep beating, or the reaper would give the run away
                log.exception("heartbeat for run %s failed; trying again", state.claim.run_id)
                connection.close()  # reconnect on the next beat
                continue
            if verdict != "ok" and not state.stop.is_set():
                state.why = verdict
                state.stop.set()
    finally:
        connection.close()  # this thread's own connection


class _CheckpointSync:
    """With a bucket: every CHECKPOINT_SYNC_SECONDS, and once more at the end, uploads the checkpoints
    that finished saving, so that a run whose host dies resumes on another (training.object_store)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.pushed, self.done = folder, set(), threading.Event()
        self.thread = None
        if object_store.enabled():
            self.thread = threading.Thread(target=self._loop, name=f"checkpoints-{folder.parent.parent.name}",
                                           daemon=True)
            self.thread.start()

    def _loop(self) -> None:
        while True:
            stopping = self.done.wait(CHECKPOINT_SYNC_SECONDS)
            try:
                object_store.checkpoints_push(self.folder, self.pushed)
            except Exception:  # the bucket blinked: the next round tries again; training goes on
                log.exception("could not upload the checkpoints in %s", self.folder)
            if stopping:
                return

    def stop(self) -> None:
        if self.thread is not None:
            self.done.set()
            self.thread.join()


def execute_run(run_id: int, *, worker: str) -> str:
    """'skipped' when the run is not queued (finished, cancelled, or another worker holds it)."""
    device = best_device()
    run = run_services.run_claim(run_id=run_id, worker=worker, device=describe_device())
    if run is None:
        return "skipped"
    state = _RunState(Claim(run.pk, run.attempt))
    beat = threading.Thread(target=_heartbeat, args=(state,), name=f"heartbeat-run-{run.pk}", daemon=True)
    beat.start()
    staging = run_dir(run.uuid) / f"staging-{run.attempt}"
    try:
        return _train_and_publish(run, state, device, staging)
    except RunCancelled:
        if state.why == "lost":  # the reaper gave the run up while we were silent; write nothing
            return "lost"
        run_services.run_mark_cancelled(claim=state.claim)
        return "cancelled"
    except Exception as exc:
        run_services.run_log(claim=state.claim, message=traceback.format_exc(limit=8))
        run_services.run_fail(claim=state.claim, error=_reason(exc, device, run.method))
        return "failed"
    finally:
        state.finished.set()
        beat.join()
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(run_dir(run.uuid) / f"ranks-{run.attempt}", ignore_errors=True)
        free_memory(device)


def _train_and_publish(run: TrainingRun, state: _RunState, device: str, staging: Path) -> str:
    hooks = _Hooks(state)
    module = method_module(run.method)
    config = config_validate(run.method, run.config)
    placement = placement_of(launch_of(run.config), config=config)
    inputs = inputs_fetch(run, device=device, output_dir=staging, log=hooks.log)
    if placement.nnodes > 1:  # the other hosts meet this one; it holds rank 0
        host = settings.CHORUS_RENDEZVOUS_HOST
        placement = replace(placement, rendezvous=f"{host}:{free_port(host)}",
                            rendezvous_timeout=settings.CHORUS_RENDEZVOUS_TIMEOUT)
        run_services.run_rendezvous_open(claim=state.claim, endpoint=placement.rendezvous, hosts=placement.nnodes)
    processes = placement.processes * placement.nnodes
    hooks.log(f"training {run.method} on {device}{' in bf16' if inputs.bf16 else ''}"
              + (f" in {processes} processes" if processes > 1 else "")
              + (f" on {placement.nnodes} hosts" if placement.nnodes > 1 else ""))
    sync = _CheckpointSync(inputs.work_dir / "checkpoints")
    try:
        if processes == 1:
            result = module.train(inputs, config, hooks)
        else:
            result = ranks_train(method=run.method, config=config, inputs=inputs, placement=placement,
                                 folder=run_dir(run.uuid) / f"ranks-{run.attempt}", hooks=hooks, stop=state.stop,
                                 why=lambda: state.why)
    finally:
        sync.stop()
    hooks.check_cancelled()

    hooks.progress(0.99, stage="publishing")
    card = model_card_render(run=run, metrics=result.metrics, summary=result.summary, usage=module.MODEL_CARD)
    (staging / "README.md").write_text(card, encoding="utf-8")
    files = [{"name": p.relative_to(staging).as_posix(), "sha256": sha256_file(p), "size_bytes": p.stat().st_size}
             for p in sorted(staging.rglob("*")) if p.is_file()]
    (staging / "checksums.sha256").write_text("".join(f"{f['sha256']}  {f['name']}\n" for f in files))
    # The folder appears complete or not at all (renamed into place, or verified in the bucket first).
    artifact_path = model_publish(staging, model_dir(run.uuid), files)
    artifact = run_services.run_succeed(
        claim=state.claim, metrics=result.metrics, summary=result.summary,
        artifact_path=artifact_path, files=files, model_card=card,
    )
    if artifact is None:
        return "lost"
    checkpoints_drop(inputs.work_dir / "checkpoints")  # the model is out; checkpoints only cost space
    return "succeeded"


def inputs_fetch(run: TrainingRun, *, device: str, output_dir: Path, log: Callable[[str], None]) -> RunInputs:
    """The run's inputs on this host: its target files (checked against their sha256), its base model
    and any checkpoints from the bucket, an empty output folder."""
    dataset = {}
    for f in run.target.files.all():
        try:
            dataset[f.name] = target_file_local(run.target.uuid, f.name, f.sha256)
        except ValueError:
            raise ValueError(f"dataset file {f.name} of {run.target} no longer matches its sha256; "
                             "refusing to train") from None
    base_model_fetch(run.base_model)  # a trained model from the bucket, when it is one
    work = run_dir(run.uuid) / "work"
    work.mkdir(parents=True, exist_ok=True)
    if pulled := checkpoints_pull(work / "checkpoints"):
        log(f"resuming from {pulled}, fetched from the bucket")
    shutil.rmtree(output_dir, ignore_errors=True)
    output_dir.mkdir(parents=True)
    return RunInputs(run_id=run.pk, base_model=run.base_model, dataset=dataset, work_dir=work,
                     output_dir=output_dir, device=device, bf16=supports_bf16(device), policy_server=policy_server())


def placement_of(launch: Launch, *, config: Any) -> Placement:
    """This worker's processes for a run of this `config` (the method's): `processes` 0 is one per GPU
    it sees (1 on a CPU)."""
    gpus = gpu_count()
    if problem := launch_problem(launch, gpus=gpus, config=config):
        raise ValueError(problem.message)
    return Placement(processes=launch.processes or max(gpus, 1), nnodes=launch.nnodes)


def _reason(exc: BaseException, device: str, method: str) -> str:
    """One line a curator can act on; out of memory, it says what to change in this method's settings;
    out of disk, what to free."""
    import torch
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
    ):
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"Out of memory on {device}: {first_line[:300]}. {method_module(method).OOM_HINT}"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        writing = f" while writing {exc.filename}" if exc.filename else ""
        return (f"The disk is full (no space left on device{writing}), so nothing was published. Free space on "
                f"the volume that holds {settings.MEDIA_ROOT} and start the run again.")
    if isinstance(exc, (RankFailed, TrainingDiverged)):
        return str(exc)
    if isinstance(exc, SoftTimeLimitExceeded):
        return f"The run went past the worker's time limit ({settings.CELERY_TASK_SOFT_TIME_LIMIT} s)."
    return f"{type(exc).__name__}: {exc}"
