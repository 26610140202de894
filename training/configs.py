"""Training methods by name, and their configs checked field by field.

The methods are the modules named in training.methods.METHODS, each keeping the contract in
training/methods/common/contract.py. Configs arrive as JSON or form strings and leave as the
method's dataclass, or as a ValidationError whose message_dict names each bad field.
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import typing
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from django.core.exceptions import ValidationError

from training.base_models import base_model_check
from training.methods import METHODS


def method_names() -> list[str]:
    return sorted(METHODS)


def method_module(name: str) -> ModuleType:
    if name not in method_names():
        raise ValidationError({"method": f"Unknown method {name!r}; choose one of: {', '.join(method_names())}."})
    return importlib.import_module(f"training.methods.{name}")


def methods_for_kind(kind: str) -> list[str]:
    """The methods that train from targets of this kind."""
    return [name for name in method_names() if kind in method_module(name).TARGET_KINDS]


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: type
    default: Any
    help: str
    minimum: float | None
    maximum: float | None
    model_folder: bool  # a str naming a model folder; empty means "not set"
    choices: tuple[Any, ...] | None  # the only values allowed, when the field lists them


# On a worker without a GPU, `processes` may still be above 1, up to this many: gloo processes on
# the CPU, to test data-parallel training anywhere. More would only share the same cores.
CPU_PROCESS_LIMIT = 4


@dataclasses.dataclass(frozen=True)
class Launch:
    """How many processes train a run, for every method: what the GPU worker hands torchrun.
    Stored in the run's config beside the method's own settings. The help of `processes` is the
    method's own (processes_help)."""

    processes: int = dataclasses.field(default=0, metadata={"min": 0, "max": 64})
    nnodes: int = dataclasses.field(default=1, metadata={
        "help": "Hosts (GPU workers) that train this run together through a torchrun rendezvous, each with "
                "`processes` processes.", "min": 1, "max": 16})


def config_fields(method: str) -> list[FieldSpec]:
    """The method's own settings, then the launch settings every method shares."""
    launch = [dataclasses.replace(s, help=processes_help(method)) if s.name == "processes" else s
              for s in _fields(Launch)]
    return _fields(method_module(method).Config) + launch


def processes_help(method: str) -> str:
    """What `processes` means for this method: how its processes hold the model. Every method trains in
    several (each declares DATA_PARALLEL = True; training/methods/common/distributed.py)."""
    fields = {f.name for f in dataclasses.fields(method_module(method).Config)}
    copies = ("each holds a whole copy of the model, unless sharding is fsdp" if "sharding" in fields
              else "each holds a whole copy of the model")
    return (f"Training processes on each host, one per GPU (torchrun --nproc-per-node); {copies}. 0: every GPU "
            f"the worker sees, or 1 on a CPU worker, which allows up to {CPU_PROCESS_LIMIT} (gloo) for testing.")


def _fields(config_cls: type) -> list[FieldSpec]:
    hints = typing.get_type_hints(config_cls)
    return [
        FieldSpec(f.name, hints[f.name], f.default, f.metadata.get("help", ""), f.metadata.get("min"),
                  f.metadata.get("max"), f.metadata.get("model_folder", False),
                  tuple(f.metadata["choices"]) if "choices" in f.metadata else None)
        for f in dataclasses.fields(config_cls)
    ]


def launch_of(data: Mapping[str, Any]) -> Launch:
    """The launch settings of a stored (validated) config; older runs, stored without them, take the defaults."""
    return Launch(**{f.name: int(data[f.name]) for f in dataclasses.fields(Launch) if f.name in data})


@dataclasses.dataclass(frozen=True)
class LaunchProblem:
    """Why a run's processes cannot start: the config setting at fault and a sentence naming it."""

    setting: str  # e.g. "processes"
    message: str  # "config.processes is 3, but ..."


def launch_problem(launch: Launch, *, gpus: int | None, config: Any) -> LaunchProblem | None:
    """Why a worker that sees `gpus` GPUs (None: not known here) cannot start these processes for a
    run of this `config` (the method's Config); None if it can."""
    sharding = getattr(config, "sharding", "ddp")  # the TRL methods' own setting
    if gpus is not None:
        if gpus and launch.processes > gpus:
            return LaunchProblem("processes", f"config.processes is {launch.processes}, but the worker sees {gpus} "
                                              f"GPU{'s' * (gpus > 1)}; choose at most {gpus}, or 0 for all of them.")
        if not gpus and launch.processes > CPU_PROCESS_LIMIT:
            return LaunchProblem("processes", f"config.processes is {launch.processes}, but the worker has no GPU; "
                                              f"on the CPU at most {CPU_PROCESS_LIMIT} (gloo) processes are allowed, "
                                              "for testing.")
        if not gpus and sharding == "fsdp":
            return LaunchProblem("sharding", "config.sharding is fsdp, but the worker has no GPU: Accelerate shards "
                                             "a model with FSDP on GPUs only (on the CPU it would quietly train with "
                                             "DDP); choose ddp.")
    each = launch.processes or (max(gpus, 1) if gpus is not None else 0)  # 0: every GPU, not known here
    if sharding == "fsdp" and each * launch.nnodes == 1:
        return LaunchProblem("sharding", "config.sharding is fsdp, but the run would have one process: FSDP splits "
                                         "the model across processes; choose ddp, or more processes or nnodes.")
    return None


def config_validate(method: str, data: Mapping[str, Any]) -> Any:
    """The method's Config from `data` (missing fields take their defaults), or ValidationError. The
    launch settings in `data` are checked too, but are not the method's: read them with launch_of.
    Settings the method has retired (its RETIRED_SETTINGS) are ignored, so that runs stored with them
    still start."""
    specs = {s.name: s for s in config_fields(method)}
    retired = set(getattr(method_module(method), "RETIRED_SETTINGS", ()))
    errors: dict[str, list[str]] = {}
    for name in sorted(set(data) - set(specs) - retired):
        errors[name] = [f"Unknown setting for {method}; known settings: {', '.join(specs)}."]
    values = {}
    for name, value in data.items():
        if name in specs:
            try:
                values[name] = _checked(specs[name], value)
            except ValueError as exc:
                errors[name] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    launch = {f.name for f in dataclasses.fields(Launch)}
    return method_module(method).Config(**{k: v for k, v in values.items() if k not in launch})


def config_as_dict(config: Any, launch: Launch | None = None) -> dict[str, Any]:
    """What a run stores: every setting of the method's config, then the launch settings."""
    return dataclasses.asdict(config) | dataclasses.asdict(launch or Launch())


def _checked(spec: FieldSpec, value: Any) -> Any:
    if spec.kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "on", "off", "1", "0"):
            return value.lower() in ("true", "on", "1")
        raise ValueError("Enter true or false.")
    if spec.kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError("Enter a whole number.")
        try:
            value = int(value)
        except ValueError:
            raise ValueError("Enter a whole number.") from None
    elif spec.kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("Enter a number.")
        try:
            value = float(value)
        except ValueError:
            raise ValueError("Enter a number.") from None
        if not math.isfinite(value):
            raise ValueError("Enter a finite number.")
    elif spec.kind is str:
        if not isinstance(value, str):
            raise ValueError("Enter text.")
        value = value.strip()
        if spec.model_folder and value:
            base_model_check(value)
    if spec.choices is not None and value not in spec.choices:
        raise ValueError(f"Choose one of: {', '.join(str(c) for c in spec.choices)}.")
    if spec.minimum is not None and value < spec.minimum:
        raise ValueError(f"Must be at least {spec.minimum}.")
    if spec.maximum is not None and value > spec.maximum:
        raise ValueError(f"Must be at most {spec.maximum}.")
    return value
