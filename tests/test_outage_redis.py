"""Redis restarted while participants are taking part: no acknowledged write is lost, no page fails,
and work queued while it was down runs once it is back.

A private redis-server (append-only, as in docker-compose.yml) serves a live gunicorn, a Celery
worker and Celery beat on the test database; the shared Redis on 6379 is never stopped.
"""
from __future__ import annotations

import itertools
import threading

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password

from chorus.accounts.join_links import join_token_make
from chorus.accounts.models import Participant
from chorus.dashboard.models import QueueProbe
from chorus.models import PendingTask
from elicitation.models import Statement, StatementVote, ValuesCard
from elicitation.models.campaigns import Activity
from elicitation.services.statements import statement_submit
from tests.factories import CampaignFactory, make_participant
from tests.support.private_services import (
    Browser,
    PrivateRedis,
    chorus_env,
    free_port,
    start_celery,
    start_web,
    stop_process,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
PARTICIPANTS = 4


class Visitor:
    """Joins by the study's link, then writes statements and votes, keeping what was acknowledged."""

    def __init__(self, base: str, token: str, slug: str, number: int) -> None:
        self.browser, self.slug, self.number = Browser(base), slug, number
        status, _, _ = self.browser.request(f"/join/{token}/", {"consent": "yes",
                                                                "csrfmiddlewaretoken": self.browser.csrf(f"/join/{token}/")})
        assert status == 200, status
        self.acknowledged: list[str] = []
        self.votes: list[int] = []
        self.failures: list[tuple[str, int, str]] = []

    def statement(self, n: int) -> None:
        text = f"Participant {self.number} says point {n} matters"
        token = self.browser.csrf(f"/c/{self.slug}/statements/")
        status, html, _ = self.browser.request(f"/c/{self.slug}/statements/", {"text": text, "csrfmiddlewaretoken": token})
        if status == 200 and "your statement is added" in html:
            self.acknowledged.append(text)
        else:
            self.failures.append((text, status, html[:300]))

    def vote(self, statement_id: int) -> None:
        token = self.browser.csrf(f"/c/{self.slug}/statements/")
        status, html, _ = self.browser.request(f"/c/{self.slug}/statements/vote/", {
            "statement": statement_id, "choice": "agree", "csrfmiddlewaretoken": token})
        if status == 200:
            self.votes.append(statement_id)
        else:
            self.failures.append((f"vote {statement_id}", status, html[:300]))

    def groups(self) -> None:
        status, html, _ = self.browser.request(f"/c/{self.slug}/statements/groups/")
        if status != 200:
            self.failures.append(("groups page", status, html[:300]))


def _card_drafted_for(participant) -> tuple[int, str]:
    """An interview with a card awaiting the participant's confirmation (drafted in this process, by
    the scripted LLM): (question id, the draft's version, which the confirm form posts)."""
    from elicitation.services import interviews

    question = participant.campaign.questions.get()
    interview = interviews.interview_start(participant=participant, question=question)
    interviews.interview_message_add(interview=interview, text="My friend decided for herself, with the facts.")
    interviews.interview_draft(interview=interview)
    interview.refresh_from_db()
    return question.pk, interviews.draft_version_of(interview.draft)


def test_redis_restart_loses_no_acknowledged_write_and_queued_work_runs_when_it_is_back(tmp_path, staff_user,
                                                                                       scripted_llm):
    # The web runs the run command's settings, whose password hashers do not include the tests' MD5.
    staff_user.password = make_password("pw-curator-123", hasher=PBKDF2PasswordHasher())
    staff_user.save(update_fields=["password"])
    campaign = CampaignFactory(activities=[Activity.PRINCIPLES, Activity.INTERVIEW])
    seeder = make_participant(campaign)
    seeded = [statement_submit(participant=seeder, text=f"Seed statement {i}").pk for i in range(30)]
    redis = PrivateRedis(tmp_path)
    redis.start()
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = chorus_env(database_url=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                     redis_url=redis.url, secret_key=settings.SECRET_KEY)
    # Deduplicating a first card needs only the bundled embedder; the LLM calls that may follow
    # (contexts) fail at once against a closed port instead of loading a model on a busy machine.
    env |= {"CHORUS_LLM_BACKEND": "openai", "CHORUS_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}
    web, base = start_web(env, tmp_path / "web.log")
    worker = start_celery(env, tmp_path / "worker.log", "worker", "-Q", "default", "-P", "solo", "-c", "1",
                          "-n", "default@redis-outage", "--without-mingle", "--without-gossip")
    beat = start_celery(env, tmp_path / "beat.log", "beat", "-s", str(tmp_path / "beat-schedule"))
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        people = [Visitor(base, join_token_make(campaign_id=campaign.pk), campaign.slug, i)
                  for i in range(PARTICIPANTS)]

        def traffic(person: Visitor) -> None:
            votes = iter(seeded)
            for n in itertools.count():
                if stop.is_set():
                    return
                person.statement(n)
                if (statement := next(votes, None)) is not None:
                    person.vote(statement)
                person.groups()
                stop.wait(0.05)  # people pause between clicks; this also leaves the CPU to the servers

        writer = Participant.objects.filter(campaign=campaign).exclude(pk=seeder.pk).order_by("pk").first()
        question_id, draft_version = _card_drafted_for(writer)
        threads = [threading.Thread(target=traffic, args=(p,), daemon=True) for p in people]
        for thread in threads:
            thread.start()
        wait_for(lambda: all(len(p.acknowledged) >= 2 for p in people), timeout=120, what="traffic to flow")

        redis.stop()
        down_since = [len(p.acknowledged) for p in people]
        staff = Browser(base)
        token = staff.csrf("/login/")
        status, html, _ = staff.request("/login/", {"username": "curator", "password": "pw-curator-123",
                                                    "csrfmiddlewaretoken": token})
        assert status == 200 and "Log out curator" in html, html[:1000]
        # Work asked for while Redis is down is kept, and the dashboard says so.
        status, _, _ = staff.request("/dashboard/probes/", {"queue": "default",
                                                            "csrfmiddlewaretoken": staff.csrf("/dashboard/")})
        assert status == 200
        probe = QueueProbe.objects.get()
        assert PendingTask.objects.filter(args=[probe.pk]).exists()
        status, html, _ = staff.request("/dashboard/probes/", headers={"HX-Request": "true"})
        assert status == 200 and "could not reach the task queue" in html, html
        # A participant confirms their values card: saved, and its deduplication kept for later.
        page = f"/c/{campaign.slug}/q/{question_id}/interview/"
        status, html, _ = people[0].browser.request(page + "card/", {
            "action": "confirm", "draft_version": draft_version, "csrfmiddlewaretoken": people[0].browser.csrf(page)})
        assert status == 200 and "Your values card is saved" in html, html[:1000]
        card = ValuesCard.objects.get(participant=writer)
        assert PendingTask.objects.filter(name="elicitation.tasks.card_deduplicate", args=[card.pk]).exists()
        wait_for(lambda: all(len(p.acknowledged) >= d + 2 for p, d in zip(people, down_since)),
                 timeout=120, what="participants' writes to go on while Redis is down")

        redis.start()
        wait_for(lambda: QueueProbe.objects.get(pk=probe.pk).ran_at, timeout=180, interval=1,
                 what="beat to send the kept probe and the worker to run it")
        assert QueueProbe.objects.get(pk=probe.pk).worker == "default@redis-outage"
        wait_for(lambda: ValuesCard.objects.get(pk=card.pk).canonical_id, timeout=180, interval=1,
                 what="the kept deduplication of the card to run")
        assert not PendingTask.objects.exists()
        after = [len(p.acknowledged) for p in people]
        wait_for(lambda: all(len(p.acknowledged) >= a + 2 for p, a in zip(people, after)),
                 timeout=120, what="traffic after Redis is back")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        for proc in (web, worker, beat):
            stop_process(proc)
        redis.stop()

    failures = [f for p in people for f in p.failures]
    assert not failures, failures[:5]
    for person in people:
        stored = Statement.objects.filter(campaign=campaign, text__in=person.acknowledged)
        assert stored.count() == len(person.acknowledged), f"participant {person.number} lost statements"
        author = stored.first().author
        assert set(StatementVote.objects.filter(participant=author, statement_id__in=seeded)
                   .values_list("statement_id", flat=True)) == set(person.votes)
    assert sum(len(p.acknowledged) for p in people) == Statement.objects.filter(campaign=campaign).exclude(author=seeder).count()
