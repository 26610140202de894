"""Withdrawal keeps its promise (issue 13, item 1): a marker planted in everything one participant
writes, and in what the LLM writes from their words, is found nowhere once they withdraw: in no table,
no media file, no cache entry, no page and no API or export response.

The participant does every activity through the services (interview with a revised and confirmed card,
value votes, an upgrade answer with a comment, a statement and statement votes, a system message with
dimensions, a comparison with a reason), and everything downstream is frozen from it (deduplication
into values, one of which another person's card joins; contexts and upgrade stories; a principle
drafted from their value and one promoted from their statement; a published constitution version and a
draft after it; a graph snapshot; constitution, moral-graph and preference-population targets). Every
scan is run before the withdrawal too, so a scan that cannot see the marker fails the test.
"""
from __future__ import annotations

import json
import random
import string
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from chorus.accounts.join_links import join_token_make
from chorus.accounts.models import Participant, Scope
from chorus.accounts.services import api_token_create, participant_consent, participant_join, session_key_for
from elicitation.domain.comparisons_exports import FORMATS
from elicitation.models import (
    BorderlinePair,
    CanonicalCard,
    Comparison,
    Constitution,
    ConstitutionRedaction,
    Context,
    GraphSnapshot,
    Principle,
    Question,
    Statement,
    SurveyAnswer,
    UpgradeStory,
    ValuesCard,
)
from elicitation.selectors.statements import statement_groups
from elicitation.selectors.surveys import survey_screen, survey_vectors
from elicitation.services import comparisons as comparison_svc
from elicitation.services import constitutions as constitution_svc
from elicitation.services import interviews as interview_svc
from elicitation.services import moral_graph as graph_svc
from elicitation.services import statements as statement_svc
from elicitation.services import surveys as survey_svc
from elicitation.services import values as values_svc
from tests.factories import CampaignFactory, make_wave
from tests.support.comparisons import judge
from tests.support.scripted_llm import CARD, ScriptedBackend
from training.models import AlignmentTarget
from training.services.targets import (
    target_freeze_constitution,
    target_freeze_moral_graph,
    target_freeze_preference_population,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# Letters only, so it fits every field's rules (a card's title is 2-5 words of letters).
MARKER = "Zqwithdrawn" + "".join(random.choices(string.ascii_lowercase, k=10))
SITUATION = "When a person faces a choice that shapes their future"

PEER_CARDS = {
    "a1": CARD,
    "b1": {"title": "Faith As Guidance", "description": "Drawing on her faith to find her way.",
           "policies": ["TEACHINGS that speak to her", "PRAYERS she finds comfort in", "COMMUNITIES that support her"]},
    "a2": {"title": "Care For Wellbeing", "description": "Looking after her health and safety.",
           "policies": ["RISKS to her health", "DOCTORS she can trust", "SIGNS of distress"]},
    "c2": {"title": "Honest Conversation", "description": "Talking openly without judgement.",
           "policies": ["QUESTIONS she is afraid to ask", "FEARS she can name", "WORDS that do not judge"]},
    # Joins the value that the withdrawing participant's second card made: its wording after they go.
    "donor": {"title": "Future Possibilities", "description": "Seeing the life she wants ahead.",
              "policies": ["PLANS she has for herself", "DREAMS she would give up", "PATHS still open"]},
}
THEIR_CARDS = {
    1: {"title": f"Quiet {MARKER} Courage", "description": f"Standing by {MARKER} when it is hard.",
        "policies": [f"MOMENTS when {MARKER} needs courage", f"WORDS that {MARKER} chose", f"PEOPLE who know {MARKER}"]},
    2: {"title": f"Honest {MARKER} Hope", "description": f"Keeping {MARKER} hopeful and honest.",
        "policies": [f"SIGNS that {MARKER} can hope", f"TRUTHS {MARKER} can bear", f"FRIENDS {MARKER} trusts"]},
}


class EchoingBackend(ScriptedBackend):
    """The scripted LLM, echoing the participant: whatever it writes from a prompt that holds the
    marker (their words, or a value worded by them) holds the marker too."""

    def _echoes(self, messages) -> bool:
        return any(MARKER in str(m.get("content", "")) for m in messages)

    def complete(self, messages, *, json_schema=None, **params) -> str:
        out = super().complete(messages, json_schema=json_schema, **params)
        if json_schema is None or not self._echoes(messages):
            return out
        props = json_schema.get("properties", {})
        data = json.loads(out)
        if "contexts" in props:
            data["contexts"] = [SITUATION, f"When someone says {MARKER}"]
        elif "story" in props:
            data["story"] = f"{data['story']} It was {MARKER} who showed me."
        elif "negated_definition" in props:
            data = {"name": f"Follow {MARKER}", "definition": f"The AI should act as {MARKER} would.",
                    "negated_definition": f"The AI should act as {MARKER} would not."}
        return json.dumps(data)

    def stream(self, messages, **params):
        yield from super().stream(messages, **params)
        if self._echoes(messages):
            yield f"As you said, {MARKER}."


# Scans -----------------------------------------------------------------------------------------------


def tables_holding_marker() -> dict[str, int]:
    """Every table of the public schema, each row as text."""
    found = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT count(*) FROM "{table}" AS t WHERE t::text ILIKE %s', [f"%{MARKER}%"])
            count = cursor.fetchone()[0]
            if count:
                found[table] = count
    return found


def media_holding_marker(root: Path) -> list[str]:
    needle = MARKER.lower().encode()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes().lower())


def cache_holding_marker() -> list[str]:
    """Every key of the cache's Redis database, whoever wrote it."""
    needle = MARKER.lower().encode()
    client = cache._cache.get_client(write=False)
    found = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            values = [client.get(key) or b""]
        elif kind == "hash":
            values = [*client.hgetall(key).keys(), *client.hgetall(key).values()]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = client.zrange(key, 0, -1)
        else:
            values = []
        if any(needle in (v if isinstance(v, bytes) else str(v).encode()).lower() for v in values):
            found.append(key.decode(errors="replace"))
    return found


def body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


# Every named URL is visited or skipped here with a reason, so a page added later must be considered.
SKIPPED = {
    "dashboard:services": "health probes of the services, no stored data",
    "dashboard:workers": "the broker's live worker list, no stored data",
}
SKIPPED_NAMESPACES = {
    "admin": "no model of the project is registered in Django's admin",
    "hub": "serves trained models' files; no model is trained in this test",
}


def named_patterns(resolver=None, namespace=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from named_patterns(pattern, f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def page_urls(s) -> dict[str, list[tuple[str, str]]]:
    """name -> [(client, url)] for every page and endpoint, with the ids that exist now."""
    campaign = s["campaign"]
    questions = list(Question.objects.filter(campaign=campaign).values_list("pk", flat=True))
    comparisons = list(Comparison.objects.filter(participant=s["peer"]).values_list("pk", flat=True))
    snapshots = list(GraphSnapshot.objects.filter(campaign=campaign).values_list("pk", flat=True))
    principles = list(Principle.objects.values_list("pk", flat=True))
    constitutions = list(Constitution.objects.values_list("pk", flat=True))
    versions = [v.pk for c in Constitution.objects.all() for v in c.versions.all()]
    targets = list(AlignmentTarget.objects.values_list("pk", flat=True))
    target_files = [(t.pk, f.name) for t in AlignmentTarget.objects.prefetch_related("files") for f in t.files.all()]
    slug, cid = campaign.slug, campaign.pk
    per_name = {
        "home": [("anonymous", {})], "login": [("anonymous", {})], "logout": [("staff", {})],
        "elicitation:join": [("anonymous", {"token": join_token_make(campaign_id=cid)})],
        "elicitation:interview": [("peer", {"slug": slug, "question_id": q}) for q in questions],
        "elicitation:interview_message": [("peer", {"slug": slug, "question_id": q}) for q in questions],
        "elicitation:interview_reply": [("peer", {"slug": slug, "question_id": q}) for q in questions],
        "elicitation:interview_card": [("peer", {"slug": slug, "question_id": q}) for q in questions],
        "elicitation:vote": [(who, {"slug": slug, "question_id": q}) for q in questions for who in ("peer", "newcomer")],
        "elicitation:graph": [("staff", {"slug": slug})], "elicitation:graph_json": [("staff", {"slug": slug})],
        "elicitation:snapshot_create": [("staff", {"slug": slug})],
        "elicitation:snapshot_json": [("staff", {"slug": slug, "snapshot_id": pk}) for pk in snapshots],
        "elicitation:comparison": [("peer", {"slug": slug, "comparison_id": pk}) for pk in comparisons],
        "elicitation:comparison_stream": [("peer", {"slug": slug, "comparison_id": pk, "side": side})
                                          for pk in comparisons for side in ("a", "b")],
        "elicitation:comparison_ready": [("peer", {"slug": slug, "comparison_id": pk}) for pk in comparisons],
        "dashboard:playground_stream": [("staff", {"stream_id": "none"})],
        "dashboard:token_revoke": [("staff", {"token_id": s["token_id"]})],
        "dashboard:export_comparisons": [("staff", {"campaign_id": cid, "fmt": fmt}) for fmt in FORMATS],
        "dashboard:card_split": [("staff", {"campaign_id": cid, "card_id": pk})
                                 for pk in ValuesCard.objects.values_list("pk", flat=True)],
        "dashboard:card_merge": [("staff", {"campaign_id": cid, "card_id": pk})
                                 for pk in ValuesCard.objects.values_list("pk", flat=True)],
        "dashboard:borderline_decide": [("staff", {"campaign_id": cid, "pair_id": pk})
                                        for pk in BorderlinePair.objects.values_list("pk", flat=True)],
        "dashboard:principle_edit": [("staff", {"principle_id": pk}) for pk in principles],
        "dashboard:principle_review": [("staff", {"principle_id": pk}) for pk in principles],
        "dashboard:constitution_detail": [("staff", {"constitution_id": pk}) for pk in constitutions],
        "dashboard:constitution_change": [("staff", {"constitution_id": pk}) for pk in constitutions],
        "dashboard:constitution_version_salmon": [("staff", {"version_id": pk}) for pk in versions],
        "dashboard:statement_moderate": [("staff", {"statement_id": pk})
                                         for pk in Statement.objects.values_list("pk", flat=True)],
        "dashboard:statement_promote": [("staff", {"statement_id": pk})
                                        for pk in Statement.objects.values_list("pk", flat=True)],
        "dashboard:targets_detail": [("staff", {"target_id": pk}) for pk in targets],
        "dashboard:targets_download": [("staff", {"target_id": pk}) for pk in targets],
        "dashboard:targets_file": [("staff", {"target_id": pk, "name": name}) for pk, name in target_files],
        "dashboard:targets_trends": [("staff", {"target_id": pk}) for pk in targets],  # 404 unless a timeline
        "api:target-trends": [("api", {"pk": pk}) for pk in targets],
        "api:target-file": [("api", {"pk": pk, "name": name}) for pk, name in target_files],
        # No run or model exists in this study (training is not what withdrawal changes).
        **{name: [] for name in ("dashboard:runs_detail", "dashboard:runs_cancel", "dashboard:models_detail",
                                 "dashboard:models_download", "dashboard:models_file", "api:run-detail",
                                 "api:run-cancel", "api:run-metrics", "api:model-detail",
                                 "api:target-import-detail")},  # nor a preference-dataset import
        "api:campaign-detail": [("api", {"pk": cid})], "api:moral-graph": [("api", {"pk": cid})],
        "api:snapshot-list": [("api", {"pk": cid})], "api:campaign-value-vectors": [("api", {"pk": cid})],
        "api:target-detail": [("api", {"pk": pk}) for pk in targets],
        "api:run-create": [("api", {"pk": pk}) for pk in targets],
    }
    out: dict[str, list[tuple[str, str]]] = {}
    for name in named_patterns():
        if name in SKIPPED or name.split(":")[0] in SKIPPED_NAMESPACES:
            continue
        if name in per_name:
            out[name] = [(who, reverse(name, kwargs=kwargs)) for who, kwargs in per_name[name]]
        elif name.startswith("elicitation:"):
            out[name] = [("peer", reverse(name, kwargs={"slug": slug}))]
        elif name.startswith("dashboard:"):
            try:
                out[name] = [("staff", reverse(name))]
            except NoReverseMatch:  # the campaign's pages
                out[name] = [("staff", reverse(name, kwargs={"campaign_id": cid}))]
        elif name.startswith("api:"):
            out[name] = [("api", reverse(name))]
        else:
            raise AssertionError(f"{name}: add this page to the scan, or to SKIPPED with a reason")
    return out


def pages_holding_marker(s) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, visits in page_urls(s).items():
        for who, url in visits:
            response = s["clients"][who].get(url, {"campaign": s["campaign"].pk} if who == "api" else {})
            assert response.status_code < 500, (name, url, response.status_code)
            if MARKER.lower() in body(response).lower():
                found.setdefault(name, []).append(url)
    for fmt in FORMATS:  # the datasets API takes its campaign and format as query parameters
        response = s["clients"]["api"].get(reverse("api:dataset-comparisons"), {"campaign": s["campaign"].pk,
                                                                                "format": fmt})
        assert response.status_code == 200
        if MARKER.lower() in body(response).lower():
            found.setdefault("api:dataset-comparisons", []).append(fmt)
    return found


# The study ---------------------------------------------------------------------------------------


def joined(client, campaign) -> Participant:
    """Joins by the signed link and consents, as a browser does."""
    response = client.post(reverse("elicitation:join", args=[join_token_make(campaign_id=campaign.pk)]),
                           {"consent": "yes"})
    assert response.status_code == 302
    return Participant.objects.get(public_id=client.session[session_key_for(campaign.pk)])


def member(campaign) -> Participant:
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    return participant_consent(participant=participant_join(campaign=campaign, session=SessionStore()))


def interviewed(backend, participant, question, card, *, words: str) -> ValuesCard:
    """An interview through the services: a message, the reply, a draft, a change asked in words, confirm."""
    backend.cards = [card]
    interview = interview_svc.interview_start(participant=participant, question=question)
    interview_svc.interview_message_add(interview=interview, text=words)
    "".join(interview_svc.interview_reply_stream(interview=interview))
    interview_svc.interview_draft(interview=interview)
    interview_svc.interview_revise(interview=interview, request=f"Please keep this: {words}")
    interview.refresh_from_db()
    return interview_svc.interview_confirm(interview=interview,
                                           draft_version=interview_svc.draft_version_of(interview.draft))


@pytest.fixture
def own_cache(settings):
    """The cache in a Redis database no other test run flushes (every test clears the shared one when it
    starts, which would empty it under this test's scans), under this run's own prefix."""
    prefix = f"withdrawal-test-{MARKER}"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": settings.REDIS_URL, "KEY_PREFIX": prefix}}
    yield
    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


@pytest.fixture
def study(settings, tmp_path, monkeypatch, staff_user, own_cache):
    settings.MEDIA_ROOT = tmp_path / "media"
    backend = EchoingBackend()
    import chorus.llm

    monkeypatch.setattr(chorus.llm, "chat_backend", lambda: backend)
    regenerate = []
    monkeypatch.setattr(values_svc, "dispatch_on_commit", lambda name, *args: regenerate.append((name, *args)))
    campaign = CampaignFactory(activities=["interview", "voting", "upgrades", "principles", "comparisons", "survey"],
                               questions=["What should I do about my pregnancy?", "How should I face my illness?"])
    q1, q2 = campaign.questions.order_by("position")
    clients = {"them": Client(), "peer": Client(), "anonymous": Client(), "staff": Client(), "api": APIClient()}
    clients["staff"].force_login(staff_user)
    token, plaintext = api_token_create(user=staff_user, name="scan", scopes=[Scope.READ_DATA, Scope.READ_MODELS])
    clients["api"].credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    them = joined(clients["them"], campaign)
    Participant.objects.filter(pk=them.pk).update(attributes={"age band": MARKER, "region": f"near {MARKER}"})
    peer = joined(clients["peer"], campaign)
    p1, p2, p3 = member(campaign), member(campaign), member(campaign)

    # Values: peers' first, then theirs; their second value is joined by another person's card.
    values = {}
    for who, question, key in ((p1, q1, "a1"), (p2, q1, "b1"), (p1, q2, "a2"), (p3, q2, "c2")):
        card = interviewed(backend, who, question, PEER_CARDS[key], words="I thought about my family.")
        values[key] = values_svc.card_deduplicate(card=card)
        values_svc.contexts_generate(canonical=values[key])
    for n, question in ((1, q1), (2, q2)):
        card = interviewed(backend, them, question, THEIR_CARDS[n], words=f"My own story: {MARKER} lived it.")
        values[n] = values_svc.card_deduplicate(card=card)
        assert card.dedup_method == "new" and MARKER in values[n].title
        values_svc.contexts_generate(canonical=values[n])
    donor = interviewed(backend, p2, q2, PEER_CARDS["donor"], words="My sister went through this.")
    values_svc.card_move(card=donor, canonical=values[2])  # a curator sees the same value

    # Votes on values, upgrade stories and answers (theirs with a comment).
    for who, question in ((them, q1), (peer, q1), (peer, q2)):
        shown = values_svc.voting_draw(participant=who, question=question)
        values_svc.votes_submit(participant=who, question=question, picked_ids=[c.pk for c in shown[:2]])
    graph_svc.upgrade_stories_propose(campaign=campaign, limit=100)
    situation = Context.objects.get(campaign=campaign, text=SITUATION)
    theirs = Context.objects.get(campaign=campaign, text__contains=MARKER)

    def story(a, b, context):
        return UpgradeStory.objects.get(context=context, from_card__in=[a, b], to_card__in=[a, b])

    for voter in (p1, p3, peer):
        for s in (story(values[1], values["b1"], situation), story(values[2], values["c2"], situation),
                  story(values[1], values[2], theirs)):
            graph_svc.edge_vote_cast(participant=voter, story=s, relationship="upgrade")
    graph_svc.edge_vote_cast(participant=them, story=story(values["a1"], values["b1"], situation),
                             relationship="not_sure", comment=f"I am not sure, says {MARKER}.")

    # Statements, their opinion groups (cached), a principle promoted from theirs.
    mine = statement_svc.statement_submit(participant=them, text=f"Doctors should listen to {MARKER} first.")
    other = statement_svc.statement_submit(participant=p1, text="Families should be heard.")
    statement_svc.statement_vote_cast(participant=them, statement=other, choice="agree")
    for voter, choice in ((p1, "agree"), (p3, "disagree"), (peer, "agree")):
        statement_svc.statement_vote_cast(participant=voter, statement=mine, choice=choice)
    statement_groups(campaign=campaign)
    promoted = statement_svc.statement_promote(statement=mine, name="Listen first")

    # Principles drafted from the graph (one from their value), a constitution published and redrafted.
    drafted = constitution_svc.principles_draft_from_graph(campaign=campaign).drafted
    from_theirs = [p for p in drafted if MARKER in p.definition]
    assert from_theirs, "a principle is drafted from one of their values"
    constitution = constitution_svc.constitution_create(title="Care charter", campaign=campaign)
    version = constitution_svc.constitution_draft(constitution=constitution)
    staff_rule = constitution_svc.principle_create(name="Be gentle", definition="The AI should be gentle.",
                                                   negated_definition="The AI should be harsh.")
    for principle in (staff_rule, promoted, *(constitution_svc.principle_approve(principle=p) for p in from_theirs)):
        constitution_svc.constitution_entry_add(version=version, principle=principle)
    constitution_svc.constitution_version_publish(version=version, notes="First charter.")
    constitution_svc.constitution_draft(constitution=constitution)

    # Value survey answers in the current wave, through the page (theirs) and the service (the peer's).
    make_wave(campaign, timezone.now() - timedelta(days=1), label="Now")
    for _ in range(2):
        item = survey_screen(round=survey_svc.survey_round_for(participant=them)).item
        assert clients["them"].post(reverse("elicitation:survey_answer", args=[campaign.slug]),
                                    {"item": item.id, "choice": "0"}).status_code == 302
    item = survey_screen(round=survey_svc.survey_round_for(participant=peer)).item
    survey_svc.survey_answer_record(participant=peer, item_id=item.id, choice=1)

    # System message, comparisons (theirs with a reason), and the freezes.
    comparison_svc.system_message_write(participant=them, text=f"Answer me as {MARKER} would like.",
                                        dimensions={"style": f"plain, like {MARKER}", "harmlessness": f"kind to {MARKER}"})
    backend.replies = ["Rest first.", "Ask a friend."]  # two different answers: an identical pair is refused
    comparison = comparison_svc.comparison_create(participant=them, prompt=f"What would {MARKER} do next?")
    for side in ("a", "b"):
        "".join(comparison_svc.comparison_stream(comparison=comparison, side=side))
    comparison_svc.comparison_decide(comparison=comparison, choice="a", reason=f"A sounds like {MARKER}.")
    comparison_svc.system_message_write(participant=peer, text="Answer briefly.", dimensions={"style": "brief"})
    judge(peer, backend, prompt="How do I rest?", choice="b", a="Sleep.", b="Sleep eight hours.")
    snapshot = graph_svc.graph_snapshot_create(campaign=campaign)
    targets = {
        "constitution": target_freeze_constitution(name="charter", constitution_version_id=version.pk),
        "moral_graph": target_freeze_moral_graph(name="graph", snapshot_id=snapshot.pk),
        "preference_population": target_freeze_preference_population(name="prefs", campaign_id=campaign.pk),
    }
    return {"campaign": campaign, "clients": clients, "them": them, "peer": peer, "values": values,
            "version": version, "targets": targets, "snapshot": snapshot, "regenerate": regenerate,
            "redactable": 1 + len(from_theirs),  # the promoted statement and the principles drafted from their values
            "token_id": token.pk, "backend": backend}


def test_nothing_they_wrote_is_left_anywhere_after_they_withdraw(study, settings, django_capture_on_commit_callbacks):
    media = Path(settings.MEDIA_ROOT)
    newcomer = study["clients"]["newcomer"] = Client()
    joined(newcomer, study["campaign"])  # joins before: their vote page draws from values including theirs

    # Every scan sees the marker before the withdrawal (a scan that cannot see it proves nothing).
    tables = tables_holding_marker()
    for table in ("accounts_participant", "elicitation_interviewmessage", "elicitation_interview",
                  "elicitation_valuescard", "elicitation_canonicalcard", "elicitation_context",
                  "elicitation_upgradestory", "elicitation_edgevote", "elicitation_statement",
                  "elicitation_principle", "elicitation_constitutionentry", "elicitation_graphsnapshot",
                  "elicitation_systemmessage", "elicitation_comparison"):
        assert table in tables, f"the marker was never written to {table}"
    targets = study["targets"]
    assert set(media_holding_marker(media)) >= {
        f"training/targets/{target.uuid}/{name}" for target, names in (
            (targets["constitution"], ["principles.jsonl"]),
            (targets["moral_graph"], ["values.jsonl", "contexts.jsonl"]),
            (targets["preference_population"], ["preferences.jsonl", "users.jsonl"]),
        ) for name in names}
    assert cache_holding_marker(), "the opinion groups in the cache hold their statement"
    before = pages_holding_marker(study)
    for name in ("elicitation:vote", "elicitation:statement_groups",
                 "elicitation:graph_json", "elicitation:snapshot_json", "dashboard:campaign_values",
                 "dashboard:principles", "dashboard:constitution_detail", "dashboard:constitution_version_salmon",
                 "dashboard:statements_campaign", "dashboard:export_comparisons", "api:value-list",
                 "api:moral-graph", "api:snapshot-list", "api:dataset-comparisons"):
        assert name in before, f"{name} did not show the marker before the withdrawal"

    with django_capture_on_commit_callbacks(execute=True):
        response = study["clients"]["them"].post(reverse("elicitation:withdraw", args=[study["campaign"].slug]))
    assert response.status_code == 200 and "You have withdrawn" in response.content.decode()
    for _, value_id in study["regenerate"]:  # as the worker would: new contexts from the new wording
        values_svc.contexts_generate(canonical=CanonicalCard.objects.get(pk=value_id))
    joined(later := Client(), study["campaign"])  # joins after: draws only from what is left
    study["clients"]["newcomer"] = later

    left = {"tables": tables_holding_marker(), "media": media_holding_marker(media), "cache": cache_holding_marker(),
            "pages": pages_holding_marker(study)}
    assert left == {"tables": {}, "media": [], "cache": [], "pages": {}}

    # What stays, and says why it changed.
    assert study["regenerate"] == [("elicitation.tasks.canonical_contexts_generate", study["values"][2].pk)]
    value = CanonicalCard.objects.get(pk=study["values"][2].pk)
    assert (value.title, value.policies) == (PEER_CARDS["donor"]["title"], PEER_CARDS["donor"]["policies"])
    assert not CanonicalCard.objects.filter(pk=study["values"][1].pk).exists()
    assert ConstitutionRedaction.objects.filter(version=study["version"]).count() == study["redactable"]
    for kind, target in targets.items():
        target.refresh_from_db()
        assert target.redactions and target.redactions[0]["rows_removed"] > 0, kind
    assert all(f.rows for f in targets["preference_population"].files.all())  # the peer's rows stay
    # Their survey answers are gone, from the table and from the wave's value vector; the peer's stay.
    assert list(SurveyAnswer.objects.values_list("participant_id", flat=True)) == [study["peer"].pk]
    [wave] = survey_vectors(campaign=study["campaign"])
    assert (wave.participants, wave.answers) == (1, 1)
