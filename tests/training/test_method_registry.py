"""The machinery offers exactly the methods listed in training.methods.METHODS, and each keeps the
contract (training/methods/common/contract.py)."""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

import training.methods
from training.configs import config_fields, config_validate, method_module, method_names
from training.methods import METHODS


def test_the_machinery_offers_exactly_the_listed_methods():
    assert method_names() == sorted(METHODS) == ["janus", "pal", "progress", "salmon", "vpl"]
    for name in ("common", "toys", "contract", "population", "salmon.py", ""):
        with pytest.raises(ValidationError, match="Unknown method"):
            method_module(name)


def test_every_module_that_trains_is_listed_and_no_other():
    """A method module left out of METHODS would never be offered; anything else listed would fail
    when a run starts."""
    trains = set()
    for info in pkgutil.iter_modules(training.methods.__path__):
        module = importlib.import_module(f"training.methods.{info.name}")
        if callable(getattr(module, "train", None)) and hasattr(module, "Config"):
            trains.add(info.name)
    assert trains == set(METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_each_listed_method_keeps_the_contract(name):
    module = method_module(name)
    assert module is importlib.import_module(f"training.methods.{name}")
    assert dataclasses.is_dataclass(module.Config) and isinstance(module.Config.tiny(), module.Config)
    assert module.TARGET_KINDS and module.REQUIRED_FILES and module.MODEL_CARD.strip() and "path" in module.USAGE
    assert callable(module.train)
    fields = config_fields(name)
    for spec in fields:  # every field explains itself to the curator
        assert spec.help, f"{name}.Config.{spec.name} has no help text"
        assert spec.choices is None or spec.default in spec.choices, f"{name}.Config.{spec.name}'s default"
    # The out-of-memory hint names settings, and only this method's own.
    named = set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", module.OOM_HINT))
    assert named and named <= {spec.name for spec in fields}, module.OOM_HINT


@dataclasses.dataclass
class _WithChoices:
    scheduler: str = dataclasses.field(default="cosine", metadata={"help": "LR schedule.",
                                                                   "choices": ("cosine", "linear")})
    rank: int = dataclasses.field(default=8, metadata={"help": "A rank.", "choices": (4, 8, 16)})


def test_a_field_with_choices_takes_only_those(monkeypatch):
    monkeypatch.setattr("training.configs.method_module", lambda name: SimpleNamespace(Config=_WithChoices))
    assert config_validate("any", {"scheduler": " linear ", "rank": "16"}) == _WithChoices("linear", 16)
    assert config_validate("any", {}) == _WithChoices()
    with pytest.raises(ValidationError) as caught:
        config_validate("any", {"scheduler": "constant", "rank": 5})
    assert caught.value.message_dict == {"scheduler": ["Choose one of: cosine, linear."],
                                         "rank": ["Choose one of: 4, 8, 16."]}


def test_a_retired_setting_is_ignored_so_runs_stored_with_it_still_start():
    """PAL no longer reads adaptation_steps (someone new is placed by their posterior); a run
    queued before that change still validates, while an unknown name is still refused."""
    assert "adaptation_steps" in method_module("pal").RETIRED_SETTINGS
    config = config_validate("pal", {"adaptation_steps": 50, "steps": 10})
    assert config.steps == 10 and not hasattr(config, "adaptation_steps")
    with pytest.raises(ValidationError, match="Unknown setting"):
        config_validate("pal", {"adaptation_step": 50})
    with pytest.raises(ValidationError, match="Unknown setting"):
        config_validate("vpl", {"adaptation_steps": 50})
