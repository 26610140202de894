from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "chorus.dashboard"
    label = "dashboard"
