"""Tasks that run on the `gpu` queue (routed there by module: see CELERY_TASK_ROUTES).

Training runs arrive here with the training issue; for now the queue carries the device probe.
"""
from celery import shared_task


@shared_task(name="gpu_workers.tasks.device_report", soft_time_limit=60, time_limit=90)
def device_report() -> str:
    from .devices import describe_device

    return describe_device()
