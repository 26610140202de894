from django.apps import AppConfig


class GpuWorkersConfig(AppConfig):
    name = "gpu_workers"
    verbose_name = "GPU workers"
