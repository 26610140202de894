"""Faults a test can plant in the test Celery workers (imported by them with `--include`).

Out of memory inside a training step: a run whose folder holds a file named OOM_MARKER raises
torch.OutOfMemoryError, as CUDA does, from the first training step of any method that trains with
a (TRL) Trainer. Runs without the file train as usual, so the session's workers serve every test.
"""
from __future__ import annotations

from pathlib import Path

from celery.signals import worker_init

OOM_MARKER = "inject-out-of-memory"


def plant_out_of_memory(run_folder: Path) -> None:
    run_folder.mkdir(parents=True, exist_ok=True)
    (run_folder / OOM_MARKER).touch()


@worker_init.connect  # sent after `--include` modules are imported; the sender is the worker
def _install(sender=None, **_kwargs) -> None:
    if not getattr(sender, "hostname", "").startswith("gpu@"):  # training runs on the gpu queue; spare the other workers the import
        return
    from transformers import Trainer

    real_training_step = Trainer.training_step

    def training_step(self, *args, **kwargs):
        # Checkpoints go to runs/<uuid>/work/checkpoints: the marker sits in an ancestor folder.
        if any((folder / OOM_MARKER).exists() for folder in Path(self.args.output_dir).parents):
            import torch

            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (injected by the test)")
        return real_training_step(self, *args, **kwargs)

    Trainer.training_step = training_step

