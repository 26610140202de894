"""Gunicorn config for `bench/load.py`: each web worker answers comparisons with the scripted chat
backend the tests use (tests/support/scripted_llm.py), so the load bench measures the platform, not
a model. Everything else is gunicorn as `platform/scripts/run.sh` starts it (flags on its command line)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def post_worker_init(worker) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import chorus.llm
    from tests.support.scripted_llm import ScriptedBackend

    class Fast(ScriptedBackend):
        """Streams its reply word by word, as a model would, and keeps no record of its calls."""

        def stream(self, messages, **params):
            yield from (word + " " for word in self.replies[0].split(" "))

    backend = Fast(replies=["Here is a short, plain answer that takes your situation into account."])
    chorus.llm.chat_backend = lambda: backend
