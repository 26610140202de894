from django.conf import settings
from django.core.management.base import BaseCommand

from chorus.inference.embeddings import load_embedder
from chorus.inference.local import prepare_local_model


class Command(BaseCommand):
    help = "Convert the bundled chat model to its cached HF folder and load the embedding model, ahead of time."
    # Runs at image build time, before there is a database or a finished configuration to check.
    requires_system_checks = ()

    def handle(self, *args, **options) -> None:
        cache_dir = settings.CHORUS_MODEL_CACHE
        chat = prepare_local_model(cache_dir)
        if chat.created:
            self.stdout.write(
                f"{chat.name}: converted from GGUF to {chat.path} ({_megabytes(chat.size_bytes)}) in {chat.seconds:.1f} s"
            )
        else:
            self.stdout.write(f"{chat.name}: already prepared at {chat.path} ({_megabytes(chat.size_bytes)})")
        embeddings = load_embedder(cache_dir)
        self.stdout.write(
            f"{embeddings.name}: loaded from {embeddings.path} ({_megabytes(embeddings.size_bytes)}) "
            f"in {embeddings.seconds:.1f} s"
        )


def _megabytes(size_bytes: int) -> str:
    return f"{size_bytes / 1e6:.1f} MB"
