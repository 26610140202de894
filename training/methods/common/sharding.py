"""How the TRL methods' Trainers hold the model across training processes: the `sharding` setting
of SALMON, Janus and the trackers. Not a method itself; no Django.

- ddp (default): every process holds a whole copy of the model; Accelerate wraps it in
  DistributedDataParallel, which averages the gradients.
- fsdp: the weights, gradients and optimizer state are split across the processes (FSDP2 through
  Accelerate), for a model that does not fit one GPU. Accelerate shards on GPUs only (on the CPU it
  quietly falls back to DDP), so the run machinery refuses it on a CPU worker and with one process
  (training/configs.py, `launch_problem`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from training.methods.common import distributed

CHOICES = ("ddp", "fsdp")
HELP = ("How the training processes hold the model: ddp, a whole copy in each; fsdp, split across them "
        "(FSDP), for a model that does not fit one GPU. fsdp needs GPUs and more than one process.")


def trainer_args(sharding: str) -> dict[str, Any]:
    """The TrainingArguments that choose it. FULL_STATE_DICT: checkpoints load like any model folder."""
    if sharding != "fsdp":
        return {}
    return {"fsdp": True, "fsdp_config": {"version": 2, "reshard_after_forward": True,
                                          "state_dict_type": "FULL_STATE_DICT"}}


def trained_model(trainer: Any, fresh: Callable[[], Any]) -> Any | None:
    """The Trainer's model, whole, on the writer; None on the other processes. Under FSDP no process
    holds it whole: every process must call this, the shards are gathered onto the writer's CPU and
    loaded into `fresh()`, an untrained model of the same structure."""
    if not trainer.is_fsdp_enabled:
        return trainer.model if distributed.is_writer() else None
    state = trainer.accelerator.get_state_dict(trainer.model)  # a collective; the full dict on rank 0 only
    if not distributed.is_writer():
        return None
    model = fresh()
    model.load_state_dict(state)
    return model
