from django.apps import AppConfig


class ElicitationConfig(AppConfig):
    name = "elicitation"
