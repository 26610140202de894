from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"

    def ready(self) -> None:
        # A participant's withdrawal reaches the frozen targets through elicitation's signal, so that
        # elicitation never imports training (docs/architecture.md, "Withdrawal").
        from elicitation.services.participants import participant_withdrawn
        from training.services.targets import targets_on_participant_withdrawn

        participant_withdrawn.connect(targets_on_participant_withdrawn, dispatch_uid="training.targets_redact")
