"""Creating, cancelling and recovering runs through the services (no worker here)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from training.models import TrainingRun
from training.services import runs as run_services
from training.services.targets import target_freeze_constitution
from training.storage import run_dir

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Runs handed to the broker; nothing reaches Redis in these tests."""
    calls = []
    monkeypatch.setattr(run_services, "_dispatch", lambda run_id, task_id: calls.append((run_id, task_id)))
    return calls


def _create(target, base, django_capture_on_commit_callbacks, **config):
    with django_capture_on_commit_callbacks(execute=True):
        return run_services.run_create(target=target, method="salmon", base_model=str(base), config=config)


def test_a_valid_run_is_saved_queued_and_dispatched_after_commit(toy_target, tiny_model_dir, sent,
                                                                 django_capture_on_commit_callbacks):
    run = _create(toy_target, tiny_model_dir, django_capture_on_commit_callbacks, max_steps="40", use_principles="false")
    assert sent == [(run.pk, run.task_id)]
    assert run.status == "queued" and run.config["max_steps"] == 40 and run.config["use_principles"] is False
    assert run.config["learning_rate"] == 1e-5  # every field is stored, defaults included
    assert "queued salmon" in TrainingRun.objects.get(pk=run.pk).log


def test_bad_config_is_refused_field_by_field_and_nothing_is_queued(toy_target, tiny_model_dir, sent,
                                                                   django_capture_on_commit_callbacks):
    with pytest.raises(ValidationError) as exc:
        _create(toy_target, tiny_model_dir, django_capture_on_commit_callbacks, max_steps=0, learning_rate="fast",
                negation_probability=1.5, use_principles="maybe", lr=0.1, policy_model="/nowhere")
    errors = exc.value.message_dict
    assert set(errors) == {"config.max_steps", "config.learning_rate", "config.negation_probability",
                           "config.use_principles", "config.lr", "config.policy_model"}
    assert "at least 1" in errors["config.max_steps"][0] and "Unknown setting" in errors["config.lr"][0]
    with pytest.raises(ValidationError) as exc:
        run_services.run_create(target=toy_target, method="dpo-magic", base_model="/nowhere", config={})
    assert set(exc.value.message_dict) == {"method", "base_model"}
    assert not TrainingRun.objects.exists() and sent == []


def test_a_target_without_the_data_a_method_needs_is_refused_before_queueing(toy_version, tiny_model_dir, sent):
    no_prompts = target_freeze_constitution(name="no prompts", constitution_version_id=toy_version.pk)
    with pytest.raises(ValidationError) as exc:
        run_services.run_create(target=no_prompts, method="salmon", base_model=str(tiny_model_dir), config={})
    assert "no data in prompts.jsonl" in exc.value.message_dict["target"][0]
    assert not TrainingRun.objects.exists() and sent == []


def test_claiming_is_once_only_and_cancel_stops_a_queued_run(toy_target, tiny_model_dir, sent,
                                                           django_capture_on_commit_callbacks, monkeypatch):
    revoked = []
    monkeypatch.setattr("celery.app.control.Control.revoke", lambda self, task_id, **kw: revoked.append(task_id))
    first = _create(toy_target, tiny_model_dir, django_capture_on_commit_callbacks)
    assert run_services.run_claim(run_id=first.pk, worker="a", device="cpu").attempt == 1
    assert run_services.run_claim(run_id=first.pk, worker="b", device="cpu") is None  # a second delivery

    second = _create(toy_target, tiny_model_dir, django_capture_on_commit_callbacks)
    second = run_services.run_cancel(run=second)
    assert second.status == "cancelled" and revoked == [second.task_id]
    assert run_services.run_claim(run_id=second.pk, worker="a", device="cpu") is None
    with pytest.raises(ValidationError):
        run_services.run_cancel(run=second)

    first = run_services.run_cancel(run=first)  # running: asked, not yet stopped
    assert first.status == "running" and first.cancel_requested_at is not None
    assert run_services.run_heartbeat(claim=run_services.Claim(first.pk, 1)) == "cancel"
    assert run_services.run_heartbeat(claim=run_services.Claim(first.pk, 2)) == "lost"  # not this attempt's


def _stale(run, *, checkpoint: bool, attempt: int = 1):
    TrainingRun.objects.filter(pk=run.pk).update(status="running", attempt=attempt, worker="gpu@gone",
                                                 heartbeat_at=timezone.now() - timedelta(minutes=10))
    if checkpoint:
        folder = run_dir(run.uuid) / "work" / "checkpoints" / "checkpoint-20"
        folder.mkdir(parents=True)
        (folder / "trainer_state.json").write_text("{}")
    # A checkpoint cut short by a crash (no trainer_state.json) never counts.
    (run_dir(run.uuid) / "work" / "checkpoints" / "checkpoint-40").mkdir(parents=True, exist_ok=True)


def test_the_reaper_resumes_from_a_checkpoint_or_fails_with_the_reason(toy_target, tiny_model_dir, sent,
                                                                      django_capture_on_commit_callbacks):
    resumable, hopeless, worn_out, live = (_create(toy_target, tiny_model_dir, django_capture_on_commit_callbacks)
                                           for _ in range(4))
    sent.clear()
    _stale(resumable, checkpoint=True)
    _stale(hopeless, checkpoint=False)
    _stale(worn_out, checkpoint=True, attempt=run_services.MAX_ATTEMPTS)
    run_services.run_claim(run_id=live.pk, worker="gpu@alive", device="cpu")
    with django_capture_on_commit_callbacks(execute=True):
        outcome = run_services.runs_reap_stale()
    assert outcome == {"resumed": 1, "failed": 2}

    resumable.refresh_from_db()
    assert resumable.status == "queued" and sent == [(resumable.pk, resumable.task_id)]
    assert "resume from checkpoint-20" in resumable.log
    hopeless.refresh_from_db()
    assert hopeless.status == "failed" and "stopped sending heartbeats" in hopeless.error
    assert "before saving any checkpoint" in hopeless.error
    worn_out.refresh_from_db()
    assert worn_out.status == "failed" and "giving up" in worn_out.error
    assert TrainingRun.objects.get(pk=live.pk).status == "running"  # its heartbeat is fresh


def test_a_restarted_worker_resumes_what_it_was_running(toy_target, tiny_model_dir, sent,
                                                       django_capture_on_commit_callbacks):
    run = _create(toy_target, tiny_model_dir, django_capture_on_commit_callbacks)
    run_services.run_claim(run_id=run.pk, worker="gpu@box", device="cpu")
    _stale(run, checkpoint=True)
    TrainingRun.objects.filter(pk=run.pk).update(worker="gpu@box", heartbeat_at=timezone.now())  # not stale yet
    with django_capture_on_commit_callbacks(execute=True):
        assert run_services.runs_recover_orphans(worker="gpu@other") == {}
        assert run_services.runs_recover_orphans(worker="gpu@box") == {"resumed": 1}
    run.refresh_from_db()
    assert run.status == "queued" and "restarted while running it" in run.log


def test_beat_schedules_the_reaper_task_by_its_registered_name():
    from django.conf import settings

    from chorus.celery import app
    from training.tasks import runs_reap_stale

    entry = settings.CELERY_BEAT_SCHEDULE["training-reap-stale-runs"]
    assert entry["task"] == runs_reap_stale.name and entry["task"] in app.tasks
    assert app.amqp.router.route({}, entry["task"])["queue"].name == "default"
    assert runs_reap_stale() == {}  # nothing stale


@pytest.mark.django_db(transaction=True)
def test_a_run_created_while_the_broker_is_down_stays_queued_and_is_sent_once_it_answers(monkeypatch, toy_target,
                                                                                         tiny_model_dir):
    from kombu.exceptions import OperationalError as BrokerUnreachable

    from chorus.dispatch import pending_tasks_send

    sent: list[tuple] = []
    broker_up = False

    def dispatch(name, *args, task_id=None, queue=None):
        if not broker_up:
            raise BrokerUnreachable("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        sent.append((name, args, task_id))

    monkeypatch.setattr("chorus.dispatch.dispatch", dispatch)
    run = run_services.run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config={})
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.QUEUED and "task queue (Redis) is unreachable" in run.log
    broker_up = True
    assert pending_tasks_send() == 1 and sent == [(run_services.TRAIN_TASK, (run.pk,), run.task_id)]
