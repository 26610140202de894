"""The program every training process runs under torchrun, one per GPU (or gloo process on a CPU):

    python -m torch.distributed.run --nproc-per-node=2 ... -m training.methods.common.rank SPEC.pickle

SPEC.pickle holds the method's name, its config and the run's inputs (the dataclasses themselves),
and the events file. The process joins the process group torchrun describes in its environment
(NCCL on CUDA, gloo on the CPU), then runs
`method.train(inputs, config, hooks)` like the worker does in a single process. Global rank 0 is the
writer: its hooks append JSON lines to the events file (progress, metrics, log lines, and at the
end the result), which the worker tails and forwards to Chorus (gpu_workers/launcher.py); the other
ranks' hooks are silent, so the run reports once per step, not once per process. Every process
appends its pid when it starts, so that the worker can end each one, and the error it dies of.
Cancelling is the worker's job: it ends the processes. No Django.
"""
from __future__ import annotations

import importlib
import json
import os
import pickle
import sys
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from training.methods.common.contract import RunInputs

WORKER_CHECK_SECONDS = 2.0
# Long enough for rank 0 to label a whole dataset (SALMON) or measure a step's value vector (the
# trackers) while the others wait for it at a collective.
COLLECTIVE_TIMEOUT = timedelta(hours=6)


class Events:
    """Appends one JSON object per line; each line is flushed, so the worker reads whole lines."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "a", encoding="utf-8") if path else None
        self.lock = threading.Lock()

    def send(self, **event: Any) -> None:
        if self.file is None:
            return
        with self.lock:
            self.file.write(json.dumps(event) + "\n")
            self.file.flush()


class WriterHooks:
    def __init__(self, events: Events) -> None:
        self.events = events

    def progress(self, fraction: float, *, stage: str) -> None:
        self.events.send(progress=fraction, stage=stage)

    def metrics(self, step: int, values: Mapping[str, float]) -> None:
        self.events.send(step=step, metrics={k: float(v) for k, v in values.items()})

    def log(self, message: str) -> None:
        self.events.send(log=message)

    def check_cancelled(self) -> None:
        pass  # the worker ends every process on cancel


class SilentHooks(WriterHooks):
    def __init__(self) -> None:
        super().__init__(Events(""))


def _end_with_the_worker(worker_pid: int) -> None:
    """A worker that is killed cannot end its processes: each one notices and ends itself, so that
    the worker's next attempt at the run never meets the last one's processes still training."""
    def watch() -> None:
        while True:
            time.sleep(WORKER_CHECK_SECONDS)
            try:
                os.kill(worker_pid, 0)
            except ProcessLookupError:
                os._exit(1)

    threading.Thread(target=watch, name="worker-watch", daemon=True).start()


def main(spec_path: str) -> None:
    import torch
    import torch.distributed as dist

    spec = pickle.loads(Path(spec_path).read_bytes())  # written by this host's worker (gpu_workers/launcher.py)
    _end_with_the_worker(spec["worker_pid"])
    events = Events(spec["events"])
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    events.send(started=rank, pid=os.getpid())
    try:
        inputs: RunInputs = spec["inputs"]
        cuda = inputs.device == "cuda"
        if cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if cuda else "gloo", timeout=COLLECTIVE_TIMEOUT)
        module = importlib.import_module(f"training.methods.{spec['method']}")
        hooks = WriterHooks(events) if rank == 0 else SilentHooks()
        result = module.train(inputs, spec["config"], hooks)
        if rank == 0:
            events.send(result={"metrics": dict(result.metrics), "summary": dict(result.summary)})
        # Every process waits for the others before leaving the group: a process that tears down its
        # gloo group while a peer is still busy (rank 0 evaluating and saving) is sometimes aborted
        # ("terminate called without an active exception"), failing a run that had finished.
        dist.barrier()
        dist.destroy_process_group()
    except BaseException as exc:
        out_of_memory = isinstance(exc, (torch.OutOfMemoryError, MemoryError))
        events.send(error=f"{type(exc).__name__}: {exc}", rank=rank, out_of_memory=out_of_memory)
        raise


if __name__ == "__main__":
    main(sys.argv[1])
