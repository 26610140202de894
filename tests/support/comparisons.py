"""People who write a system message and judge comparisons, through the real services, with the
scripted chat backend writing the two responses."""
from __future__ import annotations

from django.contrib.sessions.backends.signed_cookies import SessionStore

from chorus.accounts.services import participant_consent, participant_join
from elicitation.services import comparisons as svc


def person(campaign, *, system: str, dimensions: dict[str, str] | None = None, consent: bool = True):
    participant = participant_join(campaign=campaign, session=SessionStore())
    if consent:
        participant_consent(participant=participant)
    svc.system_message_write(participant=participant, text=system, dimensions=dimensions)
    return participant


def judge(participant, backend, *, prompt: str, choice: str, a: str = "Answer A.", b: str = "Answer B."):
    """One comparison with responses `a` and `b`, judged `choice` ("a", "b", "tie" or "both_bad")."""
    backend.replies = [a, b]
    comparison = svc.comparison_create(participant=participant, prompt=prompt)
    for side in ("a", "b"):
        "".join(svc.comparison_stream(comparison=comparison, side=side))
    return svc.comparison_decide(comparison=comparison, choice=choice)
