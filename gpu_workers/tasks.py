"""Tasks that run on the `gpu` queue (routed there by module: see CELERY_TASK_ROUTES).

Thin wrappers: the work is in gpu_workers.executor. GPU workers run one task at a time
(`-P solo -c 1`), so a task here has the card to itself.
"""
from celery import shared_task
from celery.signals import worker_ready

from gpu_workers.devices import describe_device
from gpu_workers.executor import execute_run
from gpu_workers.joining import execute_join
from training.services.runs import runs_recover_orphans


@shared_task(name="gpu_workers.tasks.device_report", soft_time_limit=60, time_limit=90)
def device_report() -> str:
    return describe_device()


# Early acknowledgement: a message is not redelivered when its worker dies. The run row decides
# what happens then (the reaper or the restarted worker resumes it from its checkpoint), which
# avoids acks_late with a Redis visibility timeout shorter than a long run.
@shared_task(name="gpu_workers.tasks.run_train", bind=True, max_retries=0)
def run_train(self, run_id: int) -> str:
    return execute_run(run_id, worker=self.request.hostname)


@worker_ready.connect
def resume_cut_off_runs(sender, **_kwargs) -> None:
    """A worker that starts holds no run, so runs still `running` under its name were cut off by a
    crash: resume them from their checkpoint now rather than when the reaper notices."""
    runs_recover_orphans(worker=sender.hostname)


@shared_task(name="gpu_workers.tasks.run_join", bind=True, max_retries=0)
def run_join(self, run_id: int) -> str:
    """Another host's share of a multi-host run (gpu_workers/joining.py)."""
    return execute_join(run_id, worker=self.request.hostname)
