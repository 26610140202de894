"""Data-parallel runs: the worker starts the method under torchrun (gloo processes on this CPU) and
stays the one process that talks to Chorus. The executor is called in this process (as in
test_executor.py); the training processes are real, started by a real torchrun.

Tolerances: with the same seed and global batch, one and two processes take the same steps up to
float rounding (each process averages its half, DDP averages the halves), so the logged losses
agree to 1e-3 (measured: about 1e-7; the trackers up to 4e-4 from their second step on, where
Adam's lr-sized early steps enlarge rounding differences) and held-out accuracies and tracker scores
to 0.02 (measured: equal; tracker scores within 2e-7). The TRL methods' global batches here are no
larger than their training sets, so every step is a whole global batch."""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings

from gpu_workers import joining
from gpu_workers.executor import _Hooks, execute_run
from gpu_workers.joining import execute_join
from tests.gpu_workers.test_imported_population_on_worker import import_brevity
from tests.support.private_services import wait_for
from training.methods import janus, pal, progress, salmon, vpl
from training.methods.common.contract import last_complete_checkpoint
from training.models import RunMetric, TrainingRun
from training.services.runs import run_cancel, run_create
from training.services.targets import target_freeze
from training.storage import run_dir

pytestmark = pytest.mark.django_db(transaction=True)

PAL_RUN = {**asdict(pal.Config.tiny()), "steps": 60, "batch_size": 64, "logging_steps": 10, "save_steps": 20,
           "new_user_fraction": 0.25, "eval_fraction": 0.25}
VPL_RUN = {**asdict(vpl.Config.tiny()), "steps": 60, "logging_steps": 10, "save_steps": 20,
           "new_user_fraction": 0.25, "eval_fraction": 0.25}


@pytest.fixture
def dispatched(monkeypatch):
    sent = []
    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: sent.append(run_id))
    monkeypatch.setattr("training.services.runs.dispatch_or_keep", lambda name, *args, **kw: sent.append(name))
    return sent


@pytest.fixture
def population(tmp_path, dispatched):
    return import_brevity(tmp_path)[0]


def _rank_processes(run: TrainingRun) -> dict[int, int]:
    """{rank: pid} of this run's torchrun (rank -1) and training processes still alive, found by their
    command line."""
    found = {}
    mark = str(run_dir(run.uuid))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace").split("\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "training.methods.common.rank" in cmdline and mark in cmdline and state != "Z":
            rank = next((int(v.split("=")[1]) for v in environ if v.startswith("RANK=")), -1)
            found[rank] = int(entry.name)
    return found


def _in_background(run_id: int) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = execute_run(run_id, worker="test@here")
            outcome["at"] = time.monotonic()
        finally:
            connection.close()  # this thread's own

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


def _losses(run: TrainingRun) -> dict[int, float]:
    return {p.step: p.values["loss"] for p in RunMetric.objects.filter(run=run)}


@pytest.mark.parametrize("method", ["pal", "vpl"])
def test_two_processes_train_the_same_personalised_model_as_one_and_report_once_per_step(
        method, population, tiny_model_dir, monkeypatch):
    config = PAL_RUN if method == "pal" else VPL_RUN
    one = run_create(target=population, method=method, base_model=str(tiny_model_dir), config={**config, "processes": 1})
    assert execute_run(one.pk, worker="test@here") == "succeeded"

    reported = []
    real_progress = _Hooks.progress
    monkeypatch.setattr(_Hooks, "progress", lambda self, fraction, *, stage: (
        reported.append(stage), real_progress(self, fraction, stage=stage)))
    two = run_create(target=population, method=method, base_model=str(tiny_model_dir), config={**config, "processes": 2})
    assert execute_run(two.pk, worker="test@here") == "succeeded"
    one, two = TrainingRun.objects.get(pk=one.pk), TrainingRun.objects.get(pk=two.pk)
    assert "in 2 processes" in two.log and two.config["processes"] == 2
    print(one.metrics, two.metrics)
    for key in ("train_accuracy", "eval_accuracy", "new_user_accuracy"):
        assert abs(one.metrics[key] - two.metrics[key]) <= 0.02, key
    curve_one, curve_two = _losses(one), _losses(two)
    start = [0] if method == "pal" else []  # PAL reports its hard-EM start as step 0
    assert sorted(curve_one) == sorted(curve_two) == start + [10, 20, 30, 40, 50, 60]
    assert max(abs(curve_one[s] - curve_two[s]) for s in curve_one) <= 1e-3, (curve_one, curve_two)
    assert reported.count("training") == config["steps"]  # rank 0's steps only, not one per process
    assert two.summary["people"] == 16 and not _rank_processes(two)


def test_two_processes_train_the_same_salmon_model_as_one(toy_target, tiny_model_dir, dispatched):
    config = {**asdict(salmon.Config.tiny()), "max_steps": 20, "save_steps": 10, "logging_steps": 5,
              "pairs_per_prompt": 2, "principles_per_example": 2}
    one = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                     config={**config, "per_device_batch_size": 4, "processes": 1})
    two = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                     config={**config, "per_device_batch_size": 2, "processes": 2})  # the same global batch
    assert execute_run(one.pk, worker="test@here") == "succeeded"
    assert execute_run(two.pk, worker="test@here") == "succeeded", TrainingRun.objects.get(pk=two.pk).log
    one, two = TrainingRun.objects.get(pk=one.pk), TrainingRun.objects.get(pk=two.pk)
    print(one.metrics, two.metrics, _losses(one), _losses(two))
    assert one.summary["examples"] == two.summary["examples"]  # rank 0 labelled the same pairs
    for key in ("train_accuracy", "eval_accuracy"):
        assert abs(one.metrics[key] - two.metrics[key]) <= 0.02, key
    curve_one, curve_two = _losses(one), _losses(two)
    assert sorted(curve_one) == sorted(curve_two) == [5, 10, 15, 20]
    assert max(abs(curve_one[s] - curve_two[s]) for s in curve_one) <= 1e-3, (curve_one, curve_two)


def _one_and_two(target, method: str, config: dict, tiny_model_dir, batch: int, monkeypatch) -> tuple:
    """The same run in one process and in two (half the per-process batch: the same global batch); the
    stages of the progress the two-process run reported."""
    one = run_create(target=target, method=method, base_model=str(tiny_model_dir),
                     config={**config, "per_device_batch_size": batch, "processes": 1})
    two = run_create(target=target, method=method, base_model=str(tiny_model_dir),
                     config={**config, "per_device_batch_size": batch // 2, "processes": 2})
    assert execute_run(one.pk, worker="test@here") == "succeeded", TrainingRun.objects.get(pk=one.pk).log
    reported = []
    real_progress = _Hooks.progress
    monkeypatch.setattr(_Hooks, "progress", lambda self, fraction, *, stage: (
        reported.append(stage), real_progress(self, fraction, stage=stage)))
    assert execute_run(two.pk, worker="test@here") == "succeeded", TrainingRun.objects.get(pk=two.pk).log
    one, two = TrainingRun.objects.get(pk=one.pk), TrainingRun.objects.get(pk=two.pk)
    print(one.metrics, two.metrics, _losses(one), _losses(two))
    assert "in 2 processes" in two.log and not _rank_processes(two)
    return one, two, reported


def test_two_processes_train_the_same_janus_policy_as_one(population, tiny_model_dir, monkeypatch):
    config = {**asdict(janus.Config.tiny()), "sft_steps": 10, "dpo_steps": 20, "logging_steps": 5,
              "save_steps": 10, "eval_fraction": 0.3}
    one, two, reported = _one_and_two(population, "janus", config, tiny_model_dir, 8, monkeypatch)
    for key in ("eval_accuracy", "eval_accuracy_without_system"):
        assert abs(one.metrics[key] - two.metrics[key]) <= 0.02, key
    curve_one, curve_two = _losses(one), _losses(two)
    assert sorted(curve_one) == sorted(curve_two) == [5, 10, 15, 20, 25, 30]  # SFT, then DPO after it
    assert max(abs(curve_one[s] - curve_two[s]) for s in curve_one) <= 1e-3, (curve_one, curve_two)
    assert reported.count("SFT") == 10 and reported.count("DPO") == 20  # rank 0's steps only


def test_two_processes_track_a_timeline_like_one(scripted_llm, tiny_model_dir, dispatched, monkeypatch):
    from tests.support.timelines import drifting_campaign

    campaign, _ = drifting_campaign(scripted_llm, waves=3, people=2, survey=True)  # 4 pairs a step
    target = target_freeze(kind="timeline", name="drift", source_id=campaign.pk)
    one, two, reported = _one_and_two(target, "progress", asdict(progress.Config.tiny()), tiny_model_dir, 4,
                                      monkeypatch)
    for key in ("pg_follow", "pg_predict", "pg_coevolve"):
        assert abs(one.metrics[key] - two.metrics[key]) <= 0.02, key
    rows_one, rows_two = (r.summary["tracking"]["rows"] for r in (one, two))
    assert max(abs(a - b) for r1, r2 in zip(rows_one, rows_two) for a, b in zip(r1["vector"], r2["vector"])
               if a is not None and b is not None) <= 0.02
    curve_one, curve_two = _losses(one), _losses(two)
    assert sorted(curve_one) == sorted(curve_two) == [2, 4, 6, 8, 10, 12]  # two points in each step's 4 steps
    # The first timeline step agrees to rounding; each later step starts from a model that differs by
    # the earlier steps' rounding, which Adam's first steps enlarge (measured up to 1.2e-2 by step 12).
    assert max(abs(curve_one[s] - curve_two[s]) for s in (2, 4)) <= 1e-5, (curve_one, curve_two)
    assert max(abs(curve_one[s] - curve_two[s]) for s in curve_one) <= 0.03, (curve_one, curve_two)
    assert [reported.count(f"step {t}: DPO") for t in range(3)] == [4, 4, 4]  # rank 0's steps only
    assert [reported.count(f"step {t}: value vector") for t in range(3)] == [1, 1, 1]


def test_cancel_stops_every_process_within_seconds(population, tiny_model_dir):
    run = run_create(target=population, method="pal", base_model=str(tiny_model_dir),
                     config={**PAL_RUN, "steps": 1_000_000, "processes": 2})
    thread, outcome = _in_background(run.pk)
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).stage == "training", timeout=90, what="training")
    assert set(_rank_processes(run)) == {-1, 0, 1}
    asked = time.monotonic()
    run_cancel(run=run)
    thread.join(60)
    assert outcome["result"] == "cancelled" and outcome["at"] - asked < 15
    assert TrainingRun.objects.get(pk=run.pk).status == "cancelled" and not _rank_processes(run)


def test_a_killed_process_fails_the_run_with_the_reason_and_a_second_attempt_resumes(population, tiny_model_dir):
    run = run_create(target=population, method="pal", base_model=str(tiny_model_dir),
                     config={**PAL_RUN, "steps": 1_000_000, "save_steps": 50, "processes": 2})
    thread, outcome = _in_background(run.pk)
    checkpoints = run_dir(run.uuid) / "work" / "checkpoints"
    wait_for(lambda: last_complete_checkpoint(checkpoints), timeout=90, what="a checkpoint")
    os.kill(_rank_processes(run)[1], signal.SIGKILL)
    thread.join(60)
    failed = TrainingRun.objects.get(pk=run.pk)
    assert outcome["result"] == "failed" and failed.status == "failed", failed.log
    assert "rank 1" in failed.error and "SIGKILL" in failed.error, failed.error
    assert not _rank_processes(run)

    # The run is queued again, as the reaper does for a run cut off with a checkpoint, with fewer steps.
    done = int(Path(last_complete_checkpoint(checkpoints)).name.split("-")[1])
    TrainingRun.objects.filter(pk=run.pk).update(status="queued", config={**failed.config, "steps": done + 20})
    assert execute_run(run.pk, worker="test@here") == "succeeded"
    resumed = TrainingRun.objects.get(pk=run.pk)
    assert f"resuming training from checkpoint-{done}" in resumed.log and resumed.attempt == 2
    assert "resuming with the features" in resumed.log
    assert done + 20 in _losses(resumed)


def test_two_hosts_meet_at_a_loopback_rendezvous_and_train_one_run(population, tiny_model_dir, dispatched):
    run = run_create(target=population, method="pal", base_model=str(tiny_model_dir),
                     config={**PAL_RUN, "processes": 1, "nnodes": 2})
    first, outcome = _in_background(run.pk)
    wait_for(lambda: "gpu_workers.tasks.run_join" in dispatched, timeout=60, what="the join task")
    joined = execute_join(run.pk, worker="second@host")
    assert joined == "done", TrainingRun.objects.get(pk=run.pk).log
    assert execute_join(run.pk, worker="third@host") == "skipped"  # every node rank is taken
    first.join(120)
    run = TrainingRun.objects.get(pk=run.pk)
    assert outcome["result"] == "succeeded", run.log
    assert "on 2 hosts" in run.log and "second@host joined as host 1 of 2" in run.log
    assert run.rendezvous.startswith("127.0.0.1:") and run.metrics["eval_accuracy"] >= 0.75


@pytest.mark.parametrize("first_host_ends", [TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED, None])
def test_a_joined_hosts_late_error_counts_only_if_the_run_did_not_succeed(population, tiny_model_dir, monkeypatch,
                                                                          caplog, first_host_ends):
    """torchrun on a host without rank 0 may exit with an error as the first host finishes and closes
    the rendezvous store: once the run has succeeded that is noted, not a failed join."""
    run = run_create(target=population, method="pal", base_model=str(tiny_model_dir),
                     config={**PAL_RUN, "processes": 1, "nnodes": 2})
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.RUNNING, rendezvous="127.0.0.1:1")
    monkeypatch.setattr(joining, "LATE_FAILURE_SECONDS", 3)
    monkeypatch.setattr(joining, "inputs_fetch", lambda *a, **kw: None)

    def torchrun_fails_as_the_first_host_ends(**_kw):
        if first_host_ends:  # None: the first host is still training when this host's processes fail
            TrainingRun.objects.filter(pk=run.pk).update(status=first_host_ends)
        raise RuntimeError("torchrun exited with 1")

    monkeypatch.setattr(joining, "ranks_train", torchrun_fails_as_the_first_host_ends)
    started = time.monotonic()
    outcome = execute_join(run.pk, worker="second@host")
    noted = "after the run had succeeded" in caplog.text
    if first_host_ends == TrainingRun.Status.SUCCEEDED:
        assert outcome == "done" and noted
    else:
        assert outcome == "failed" and not noted
    if first_host_ends is None:  # still running: the failure is in the run's log, as before
        assert "host 1 (second@host): failed: " in TrainingRun.objects.get(pk=run.pk).log
    assert time.monotonic() - started < 3 + 5  # waits for the run to end at most LATE_FAILURE_SECONDS


@override_settings(CHORUS_RENDEZVOUS_TIMEOUT=5)
def test_a_host_that_never_joins_fails_the_run_naming_nnodes(population, tiny_model_dir):
    run = run_create(target=population, method="pal", base_model=str(tiny_model_dir),
                     config={**PAL_RUN, "processes": 1, "nnodes": 2})
    started = time.monotonic()
    assert execute_run(run.pk, worker="test@here") == "failed"
    run = TrainingRun.objects.get(pk=run.pk)
    assert time.monotonic() - started < 60 and run.error.startswith("config.nnodes is 2"), run.error
    assert not _rank_processes(run)


def test_more_processes_than_devices_are_refused(population, tiny_model_dir):
    with override_settings(CHORUS_WORKER_GPUS=1), pytest.raises(ValidationError) as refused:
        run_create(target=population, method="pal", base_model=str(tiny_model_dir), config={**PAL_RUN, "processes": 2})
    assert "GPU" in refused.value.message_dict["config.processes"][0]
    assert not TrainingRun.objects.exists()
    # Not stated by the deployment: the worker refuses it when it starts, naming the setting.
    run = run_create(target=population, method="pal", base_model=str(tiny_model_dir), config={**PAL_RUN, "processes": 5})
    assert execute_run(run.pk, worker="test@here") == "failed"
    assert TrainingRun.objects.get(pk=run.pk).error.startswith("ValueError: config.processes is 5, but the worker has no GPU")


WORKER_SCRIPT = """
import json, sys, threading
from dataclasses import asdict, replace
from pathlib import Path
from gpu_workers.launcher import Placement, ranks_train
from tests.support.population_runs import RecordingHooks
from training.methods import pal, toys
from training.methods.common.contract import RunInputs

folder, base = Path(sys.argv[1]), sys.argv[2]
data = folder / "preferences.jsonl"
data.write_text("".join(json.dumps(asdict(p)) + "\\n" for p in toys.population(10, 6, seed=0)))
for sub in ("work", "out"):
    (folder / sub).mkdir()
inputs = RunInputs(run_id=0, base_model=base, dataset={"preferences.jsonl": data, "users.jsonl": data},
                   work_dir=folder / "work", output_dir=folder / "out", device="cpu", bf16=False)
ranks_train(method="pal", config=replace(pal.Config.tiny(), steps=10**9, save_steps=10**9),
            inputs=inputs, placement=Placement(processes=2), folder=folder / "ranks", hooks=RecordingHooks(),
            stop=threading.Event(), why=lambda: "")
"""


def test_a_killed_worker_leaves_no_training_process(tiny_model_dir, tmp_path):
    """The worker itself dies (kill -9): it cannot end its processes, so each one ends itself."""
    import subprocess
    import sys

    from gpu_workers.launcher import REPO_ROOT

    worker = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, str(tmp_path), str(tiny_model_dir)], cwd=REPO_ROOT,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    events = tmp_path / "ranks" / "events.jsonl"
    wait_for(lambda: events.exists() and events.read_text().count('"started"') == 2, timeout=90, what="two ranks")

    def alive() -> list[str]:
        return [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _reads(p, str(tmp_path))]

    assert len(alive()) >= 3  # torchrun and the two ranks
    worker.kill()
    worker.wait()
    wait_for(lambda: not alive(), timeout=30, what="the training processes to end")


def _reads(proc: Path, mark: str) -> bool:
    try:
        return mark in (proc / "cmdline").read_bytes().decode(errors="replace") and \
            (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
