"""Scripted participants through the interview on the configured chat backend (the bundled SmolLM2-135M
on CPU by default): does every turn end on a question, are turns ever repeated, how long until the first
token and until a card, and do the drafted cards pass the card rules?

Each participant tells one of 20 different stories, then answers the interviewer's next two questions
(what they paid attention to, why it mattered) with scripted lines, and asks for a card draft. The
figures, over all interviewer turns after the fixed opening:

- model asked: the model's own reply ended on a question (before the protocol stepped in);
- stored turn ends on one question: after the protocol (should be 100%);
- identical turns: turns equal to an earlier turn of the same interview (should be 0%), and for the
  raw model replies the same, which is what participants saw before the protocol;
- first token: seconds from sending a message to the first streamed piece; reply: to the stored turn;
- card: seconds for the draft (drafting retries up to DRAFT_ATTEMPTS times), and from the first message;
- card rules: share of draft attempts whose JSON passes the card rules, and of participants who got a card.

Everything it writes (one campaign) is deleted at the end.

    DATABASE_URL=... .venv/bin/python bench/interview.py [--participants 20]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "platform")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chorus.settings.local")

import django

django.setup()

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError

from chorus import llm
from chorus.accounts import services as account_services
from elicitation.domain.values import card_from_json
from elicitation.models import Campaign, InterviewMessage
from elicitation.services import campaigns as campaign_services
from elicitation.services import interviews as svc

QUESTION = "I am considering an abortion. What should I do?"
STORIES = [
    "My sister got pregnant at nineteen and everyone at church told her what she had to do.",
    "A friend of mine had an abortion in college and nobody asked her how she was afterwards.",
    "When my wife and I learned our baby had a serious condition, the doctors spoke only in statistics.",
    "I was seventeen and scared, and the clinic nurse sat with me and explained every option slowly.",
    "My best friend kept her baby after her parents threatened to throw her out if she did not.",
    "I volunteered at a crisis line and heard women who only wanted someone to listen without judging.",
    "My mother told me decades later about an abortion she had before I was born, and how alone she felt.",
    "A coworker asked me for advice once and I lectured her, and she never talked to me about it again.",
    "My cousin's boyfriend pressured her hard, and it took her weeks to notice what she herself wanted.",
    "As a pastor I counselled a young woman and learned to ask questions instead of giving answers.",
    "My partner and I disagreed about continuing a pregnancy, and a counsellor helped us hear each other.",
    "I had a miscarriage, and people said things meant to comfort me that felt like judgement.",
    "My daughter came to me frightened, and what helped was that I stayed calm and let her talk.",
    "A nurse friend told me about patients who got misinformation online and made choices in panic.",
    "I grew up in a strict religious family and could not ask anyone honest questions about my body.",
    "My roommate needed money and time off work, and the practical help mattered more than opinions.",
    "When I was pregnant at forty, everyone had views on my age but nobody asked about my life.",
    "A friend chose to continue her pregnancy and felt people assumed she had not thought it through.",
    "I drove a friend to a clinic past protesters and saw how much she needed someone steady beside her.",
    "My aunt regretted that she never had real information, only fear, when she faced this choice.",
]
ATTENTION = "I noticed whether people asked what she wanted, or just told her what to do."
MEANING = "It mattered because the choice was hers to live with, and respect let her think clearly."


class Recording:
    """Wraps the chat backend to keep what the model itself wrote and how each draft attempt fared."""

    def __init__(self, backend):
        self.backend = backend
        self.raw_replies: list[str] = []
        self.draft_attempts: list[bool] = []

    def stream(self, messages, **params):
        pieces, inner = [], self.backend.stream(messages, **params)
        try:
            for piece in inner:
                pieces.append(piece)
                yield piece
        finally:  # also when the interview stops reading at the first question
            inner.close()
            self.raw_replies.append("".join(pieces))

    def complete(self, messages, *, json_schema=None, **params):
        raw = self.backend.complete(messages, json_schema=json_schema, **params)
        if json_schema is not None and "policies" in json_schema.get("properties", {}):
            try:
                card_from_json(json.loads(raw))
                self.draft_attempts.append(True)
            except (ValidationError, ValueError):
                self.draft_attempts.append(False)
        return raw


def send(interview, text: str) -> tuple[float, float]:
    """(seconds to the first streamed piece, seconds to the stored turn)."""
    svc.interview_message_add(interview=interview, text=text)
    start = time.monotonic()
    first = None
    for _ in svc.interview_reply_stream(interview=interview):
        if first is None:
            first = time.monotonic() - start
    done = time.monotonic() - start
    return (done if first is None else first), done


def share(flags) -> str:
    flags = list(flags)
    return f"{100 * sum(flags) / len(flags):.0f}% ({sum(flags)}/{len(flags)})" if flags else "n/a"


def seconds(values) -> str:
    values = sorted(values)
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.1f} s, max {values[-1]:.1f} s"


@dataclass
class Tally:
    raw_asked: list[bool] = field(default_factory=list)  # per raw model reply
    raw_repeats: list[bool] = field(default_factory=list)
    ends: list[bool] = field(default_factory=list)  # per stored turn
    repeats: list[bool] = field(default_factory=list)
    first_tokens: list[float] = field(default_factory=list)
    reply_times: list[float] = field(default_factory=list)
    draft_times: list[float] = field(default_factory=list)
    card_times: list[float] = field(default_factory=list)
    carded: list[bool] = field(default_factory=list)

    def print(self, draft_attempts: list[bool]) -> None:
        print(f"\nafter {len(self.carded)} participant(s):")
        print(f"model asked a question itself:      {share(self.raw_asked)}")
        print(f"stored turn ends on one question:   {share(self.ends)}")
        print(f"identical turns (raw model):        {share(self.raw_repeats)}")
        print(f"identical turns (stored):           {share(self.repeats)}")
        print(f"time to first token:                {seconds(self.first_tokens)}")
        print(f"time to stored reply:               {seconds(self.reply_times)}")
        print(f"time to card (draft only):          {seconds(self.draft_times)}")
        print(f"time to card (from first message):  {seconds(self.card_times)}")
        print(f"draft attempts passing card rules:  {share(draft_attempts)}")
        print(f"participants who got a card:        {share(self.carded)}", flush=True)


def interview_one(story: str, campaign, question, recording: Recording, tally: Tally) -> None:
    participant = account_services.participant_join(campaign=campaign, session=SessionBase())
    account_services.participant_consent(participant=participant)
    interview = svc.interview_start(participant=participant, question=question)
    started = time.monotonic()
    raw_before = len(recording.raw_replies)
    for text in (story, ATTENTION, MEANING):
        first, done = send(interview, text)
        tally.first_tokens.append(first)
        tally.reply_times.append(done)
    turns = list(interview.messages.filter(role=InterviewMessage.Role.ASSISTANT)
                 .values_list("content", flat=True))[1:]  # after the fixed opening
    raws = [r.strip() for r in recording.raw_replies[raw_before:]]
    tally.ends += [t.endswith("?") and t.count("?") == 1 for t in turns]
    tally.repeats += [t in turns[:k] for k, t in enumerate(turns)]
    tally.raw_repeats += [r in raws[:k] for k, r in enumerate(raws)]
    tally.raw_asked += ["?" in r for r in raws]
    draft_start = time.monotonic()
    try:
        svc.interview_draft(interview=interview)
        tally.carded.append(True)
    except svc.InterviewError:
        tally.carded.append(False)
    tally.draft_times.append(time.monotonic() - draft_start)
    tally.card_times.append(time.monotonic() - started)
    print(f"  participant {len(tally.carded)}: model wrote {raws!r}; stored {turns!r}; "
          f"card {'yes' if tally.carded[-1] else 'no'} in {tally.draft_times[-1]:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=20, help="how many scripted participants (1-20)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a stopped run still deletes what it wrote
    count = max(1, min(args.participants, len(STORIES)))

    recording = Recording(llm.chat_backend())
    llm.chat_backend = lambda: recording  # the services ask for the backend on every call
    campaign = campaign_services.campaign_create(title="bench: interview", questions=[QUESTION],
                                                 status=Campaign.Status.OPEN, slug=f"bench-interview-{os.getpid()}")
    print(f"backend {settings.CHORUS_LLM_BACKEND}:{settings.CHORUS_LLM_MODEL}, {count} participants, "
          f"reply params {svc.REPLY_PARAMS}")
    tally = Tally()
    try:
        for story in STORIES[:count]:
            interview_one(story, campaign, campaign.questions.get(), recording, tally)
            tally.print(recording.draft_attempts)  # after each one: a slow CPU run may be stopped early
    finally:
        campaign.delete()


if __name__ == "__main__":
    main()
