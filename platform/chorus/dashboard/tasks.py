from celery import shared_task

from chorus.dashboard.services import queue_probe_record
from gpu_workers.devices import describe_device


@shared_task(bind=True, name="chorus.dashboard.tasks.queue_probe_run", soft_time_limit=60, time_limit=90)
def queue_probe_run(self, probe_id: int) -> None:
    queue_probe_record(probe_id=probe_id, worker=self.request.hostname or "", device=describe_device())
