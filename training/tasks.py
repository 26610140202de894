"""Tasks on the `default` queue for training. The training itself runs in gpu_workers.tasks."""
from celery import shared_task

from training.services import imports
from training.services.runs import runs_reap_stale as reap


@shared_task(name="training.tasks.runs_reap_stale", soft_time_limit=60, time_limit=90)
def runs_reap_stale() -> dict[str, int]:
    """Run by Celery beat (CELERY_BEAT_SCHEDULE): resume or fail runs whose worker went silent."""
    return reap()


@shared_task(name="training.tasks.preference_import_run", soft_time_limit=60 * 60 * 2, time_limit=60 * 60 * 2 + 60)
def preference_import_run(import_id: int) -> str | None:
    """Checks and imports one uploaded preference file; a repeat of a started import is a no-op."""
    job = imports.preference_import_run(import_id=import_id)
    return job.status if job else None


@shared_task(name="training.tasks.preference_imports_reap", soft_time_limit=60, time_limit=90)
def preference_imports_reap() -> dict[str, int]:
    """Run by Celery beat: queue again, or fail with the reason, imports whose worker stopped beating."""
    return imports.preference_imports_reap()
