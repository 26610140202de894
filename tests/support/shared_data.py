"""Where the real third-party files that some tests read live, and what to do when they are absent.

They sit outside the repository, in `../shared/data/` beside the clone (see that folder's README);
`CHORUS_SHARED_DATA` points elsewhere. A test that needs them carries the mark
`@pytest.mark.shared_data("polis/15-per-hour-seattle", "the real Polis export")`, and `tests/conftest.py`
skips it with one line when the folder is absent: a fresh clone with nothing beside it stays green.
In CI (`CI` set, and not "false" or "0") the same absence fails the test instead, so CI never skips them.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

ENV_VAR = "CHORUS_SHARED_DATA"
DEFAULT_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # ../shared/data beside the clone


def shared_data_root(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ[ENV_VAR]) if environ.get(ENV_VAR) else DEFAULT_ROOT


def shared_data(relative: str, environ: Mapping[str, str] = os.environ) -> Path:
    """The path of `relative` inside the shared data folder (which may not exist)."""
    return shared_data_root(environ) / relative


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("CI", "").strip().lower() not in ("", "false", "0")


def missing_message(relative: str, what: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """One line saying what is missing, or None when the folder is there."""
    if shared_data(relative, environ).exists():
        return None
    if environ.get(ENV_VAR):
        return f"needs {shared_data(relative, environ)} ({what}; set by {ENV_VAR}); absent"
    return f"needs ../shared/data/{relative} ({what}); absent in this clone"


# The folders tests read, each with its mark (the mark's second argument names it in the skip line).
POLIS_EXPORT = "polis/15-per-hour-seattle"
SALMON_PRINCIPLES = "salmon_principles"
needs_polis_export = pytest.mark.shared_data(POLIS_EXPORT, "the real Polis export")
needs_salmon_principles = pytest.mark.shared_data(SALMON_PRINCIPLES, "IBM SALMON's principle collections")
HH_HIDDEN_CONTEXT = "hh_hidden_context"
needs_hh_hidden_context = pytest.mark.shared_data(HH_HIDDEN_CONTEXT, "HH-RLHF pairs regrouped by annotator")
