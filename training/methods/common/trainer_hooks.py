"""A transformers TrainerCallback that reports a Trainer's progress, metrics and checkpoints to a
run's hooks, for methods that train with (TRL's) Trainers. Not a method itself; no Django."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training.methods.common.contract import Hooks, check_finite


def reporting_callback(hooks: Hooks, *, max_steps: int, progress: tuple[float, float], stage: str,
                       keys: Mapping[str, str], step_offset: int = 0) -> Any:
    """Progress runs from progress[0] to progress[1] over max_steps; logged values named in `keys`
    (Trainer's name -> the run's) become metric points at step_offset + the Trainer's step; cancel
    is checked after every step, and a logged loss that is not a number fails the run
    (`TrainingDiverged`)."""
    from transformers import TrainerCallback

    start, end = progress

    class Reporting(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            hooks.progress(start + (end - start) * state.global_step / max_steps, stage=stage)
            hooks.check_cancelled()

        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
            numbers = {keys[k]: float(v) for k, v in (logs or {}).items() if k in keys}
            if "loss" in (logs or {}):
                check_finite(logs["loss"], step=step_offset + state.global_step, learning_rate=args.learning_rate)
            if numbers:
                hooks.metrics(step_offset + state.global_step, numbers)

        def on_save(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            hooks.log(f"{stage}: checkpoint saved at step {state.global_step}")

    return Reporting()
