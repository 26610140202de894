"""Tests that read ../shared/data skip with one line when it is absent, and fail with that line in CI."""
import pytest

from tests import conftest
from tests.support.shared_data import DEFAULT_ROOT, ENV_VAR, in_ci, missing_message, shared_data, shared_data_root


class Item:
    """Just enough of a pytest item for the two hooks."""

    def __init__(self, *marks):
        self.marks = [m.mark for m in marks]

    def iter_markers(self, name):
        return (m for m in self.marks if m.name == name)


NEEDS_POLIS = pytest.mark.shared_data("polis/15-per-hour-seattle", "the real Polis export")
ABSENT_LINE = "needs /nonexistent/polis/15-per-hour-seattle (the real Polis export; set by CHORUS_SHARED_DATA); absent"


def test_the_folder_is_beside_the_clone_unless_the_environment_says_otherwise(tmp_path):
    assert DEFAULT_ROOT == conftest.REPO_ROOT.parent / "shared" / "data"
    assert shared_data_root({}) == DEFAULT_ROOT
    assert shared_data("polis", {ENV_VAR: str(tmp_path)}) == tmp_path / "polis"
    assert shared_data("polis", {ENV_VAR: ""}) == DEFAULT_ROOT / "polis"


@pytest.mark.parametrize("value, ci", [(None, False), ("", False), ("false", False), ("0", False), ("FALSE", False),
                                       ("true", True), ("1", True), ("yes", True)])
def test_ci_is_any_value_but_empty_false_or_zero(value, ci):
    assert in_ci({} if value is None else {"CI": value}) is ci


def test_the_missing_line_names_the_folder_and_what_it_holds(tmp_path):
    assert missing_message("polis", "the export", {ENV_VAR: str(tmp_path)}) == (
        f"needs {tmp_path}/polis (the export; set by CHORUS_SHARED_DATA); absent")
    (tmp_path / "polis").mkdir()
    assert missing_message("polis", "the export", {ENV_VAR: str(tmp_path)}) is None
    if not DEFAULT_ROOT.joinpath("nothing-here").exists():
        assert missing_message("nothing-here", "x", {}) == "needs ../shared/data/nothing-here (x); absent in this clone"


def test_absent_data_skips_outside_ci(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "/nonexistent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        conftest.pytest_runtest_setup(Item(NEEDS_POLIS))
    assert str(skipped.value) == ABSENT_LINE


@pytest.mark.parametrize("ci", ["true", "1"])
def test_absent_data_fails_in_ci_with_the_same_line(monkeypatch, ci):
    monkeypatch.setenv(ENV_VAR, "/nonexistent")
    monkeypatch.setenv("CI", ci)
    conftest.pytest_runtest_setup(Item(NEEDS_POLIS))  # not skipped
    with pytest.raises(pytest.fail.Exception) as failed:
        conftest.pytest_runtest_call(Item(NEEDS_POLIS))
    assert str(failed.value) == ABSENT_LINE


def test_present_data_neither_skips_nor_fails(monkeypatch, tmp_path):
    (tmp_path / "polis" / "15-per-hour-seattle").mkdir(parents=True)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    for ci in ("", "true"):
        monkeypatch.setenv("CI", ci)
        conftest.pytest_runtest_setup(Item(NEEDS_POLIS))
        conftest.pytest_runtest_call(Item(NEEDS_POLIS))


def test_unmarked_tests_are_left_alone(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "/nonexistent")
    monkeypatch.setenv("CI", "true")
    conftest.pytest_runtest_setup(Item(pytest.mark.slow))
    conftest.pytest_runtest_call(Item(pytest.mark.slow))
