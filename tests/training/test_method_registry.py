"""Every module the machinery lists as a method keeps the contract (training/methods/contract.py)."""
from __future__ import annotations

import dataclasses

from training.configs import config_fields, method_module, method_names


def test_every_listed_method_keeps_the_contract():
    names = method_names()
    assert {"janus", "pal", "salmon", "vpl"} <= set(names)
    assert not {"contract", "policies", "population", "trainer_hooks"} & set(names)  # shared modules
    for name in names:
        module = method_module(name)
        assert dataclasses.is_dataclass(module.Config) and isinstance(module.Config.tiny(), module.Config)
        assert module.TARGET_KINDS and module.REQUIRED_FILES and module.MODEL_CARD.strip() and "path" in module.USAGE
        assert callable(module.train)
        for spec in config_fields(name):  # every field explains itself to the curator
            assert spec.help, f"{name}.Config.{spec.name} has no help text"
