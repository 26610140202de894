"""Gunicorn config for `bench/load.py`: each web worker answers comparisons with the scripted chat
backend the tests use (tests/support/scripted_llm.py), so the load bench measures the platform, not
a model. Everything else is gunicorn as `platform/scripts/run.sh` starts it (flags on its command line)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fast_backend():
    """Streams its reply word by word, as a model would, and keeps no record of its calls. The two
    sides of a comparison differ (with and without the system message), as a model's would: a pair
    of identical replies is refused when judged."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.support.scripted_llm import ScriptedBackend

    class Fast(ScriptedBackend):
        def stream(self, messages, **params):
            reply = self.replies[messages[0]["role"] == "system"]
            yield from (word + " " for word in reply.split(" "))

    return Fast(replies=["Here is a short, plain answer that takes your situation into account.",
                         "Briefly: think about what matters most to you, then decide."])


def post_worker_init(worker) -> None:
    import chorus.llm

    backend = fast_backend()
    chorus.llm.chat_backend = lambda: backend
