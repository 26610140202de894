"""Bad input never crashes a page: every form a participant or a curator can reach, submitted with
hostile values in each of its fields, answers below 500; the cases found by hand get a 400 naming the field."""
from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
from django.utils import timezone

from chorus.accounts.join_links import join_token_make
from elicitation.models import Activity, Wave
from elicitation.services.campaigns import campaign_create
from elicitation.services.comparisons import system_message_write
from elicitation.services.constitutions import constitution_create, principle_create
from elicitation.services.statements import statement_submit
from tests.support.seed import seed_peer_values

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
HOSTILE = [NUL, "abc", "-1", "9" * 25, "x" * 20_000, "<script>alert(1)</script>", ""]
SKIP_ACTIONS = ("/withdraw/", "/logout/", "/finish/")  # they end the session under test


class Forms(HTMLParser):
    """Each form on a page: where it posts, its method, and its fields with their default values."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("hx-post") or a.get("action") or "", "fields": {},
                          "method": "post" if (a.get("hx-post") or a.get("method", "get").lower() == "post") else "get"}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select") and a.get("name"):
            if a.get("type") in ("file", "submit") and not a.get("value"):
                return
            if a.get("type") in ("checkbox", "radio") and "checked" not in a and a["name"] in self._form["fields"]:
                return
            self._form["fields"][a["name"]] = a.get("value") or ""
            self._select = a["name"] if tag == "select" else None
        elif tag == "option" and self._form is not None and self._select and "selected" in a:
            self._form["fields"][self._select] = a.get("value", "")
        elif tag == "button" and self._form is not None and a.get("name"):
            self._form["fields"].setdefault(a["name"], a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def forms_on(client, url: str) -> list[dict]:
    page = client.get(url)
    assert page.status_code < 500, (url, page.status_code)
    parser = Forms()
    parser.feed(page.content.decode())
    for form in parser.forms:
        form["action"] = urljoin(url, form["action"] or url)
    return [f for f in parser.forms if not f["action"].endswith(SKIP_ACTIONS)]


def fuzz(client, urls: list[str]) -> int:
    """Submits every form found on `urls` with each hostile value in each field; returns the count."""
    sent = 0
    for url in urls:
        for form in forms_on(client, url):
            send = client.post if form["method"] == "post" else client.get
            for field in form["fields"] or {"": ""}:
                for value in HOSTILE:
                    data = {**form["fields"], field: value} if field else {}
                    response = send(form["action"], data)
                    sent += 1
                    assert response.status_code < 500, (form["action"], field, value[:20], response.status_code)
                    if value == NUL and field:
                        assert response.status_code == 400, (form["action"], field)
                        assert field in response.content.decode(), (form["action"], field)
    return sent


@pytest.fixture
def study(scripted_llm):
    campaign = campaign_create(title="Hostile input", questions=["What should the assistant consider?"],
                               activities=[a.value for a in Activity], status="open")
    question = campaign.questions.get()
    seed_peer_values(question)
    Wave.objects.create(campaign=campaign, number=1, label="First", starts_at=timezone.now())
    return campaign


def joined(client, campaign):
    url = f"/join/{join_token_make(campaign_id=campaign.pk)}/"
    assert client.post(url, {"consent": "yes"}).status_code == 302
    from chorus.accounts.models import Participant

    return Participant.objects.filter(campaign=campaign).order_by("-pk").first()


def test_participant_forms_refuse_hostile_input_without_a_crash(client, study):
    participant = joined(client, study)
    other = joined(client.__class__(), study)
    statement_submit(participant=other, text="Everyone should be heard.")
    system_message_write(participant=other, text="Answer briefly and kindly.")
    question = study.questions.get()
    slug = study.slug
    urls = [f"/c/{slug}/", f"/c/{slug}/q/{question.pk}/interview/", f"/c/{slug}/q/{question.pk}/vote/",
            f"/c/{slug}/upgrades/", f"/c/{slug}/statements/", f"/c/{slug}/compare/"]
    assert fuzz(client, urls) > 50
    assert participant.campaign.is_open


def test_staff_forms_refuse_hostile_input_without_a_crash(client, staff_user, study):
    client.force_login(staff_user)
    principle = principle_create(name="Be honest", definition="Say what is true.", negated_definition="", kind="rule")
    constitution = constitution_create(title="House rules")
    urls = ["/dashboard/", "/dashboard/campaigns/new/", f"/dashboard/campaigns/{study.pk}/",
            f"/dashboard/campaigns/{study.pk}/values/", f"/dashboard/campaigns/{study.pk}/leaderboard/",
            "/dashboard/principles/", f"/dashboard/principles/{principle.pk}/", "/dashboard/constitutions/",
            f"/dashboard/constitutions/{constitution.pk}/", "/dashboard/statements/",
            f"/dashboard/statements/campaigns/{study.pk}/", "/dashboard/statements/import/polis/",
            "/dashboard/imports/mai/", "/dashboard/targets/new/", "/dashboard/runs/new/", "/dashboard/tokens/",
            "/dashboard/playground/", f"/c/{study.slug}/graph/"]
    assert fuzz(client, urls) > 200


@pytest.mark.parametrize("field, path", [
    ("statement", "/c/{slug}/statements/vote/"),
    ("story", "/c/{slug}/upgrades/"),
    ("source", "/c/{slug}/compare/"),
])
def test_ids_that_are_not_numbers_are_named(client, study, field, path):
    joined(client, study)
    data = {field: "abc", "action": "adopt", "choice": "agree", "relationship": "upgrade"}
    response = client.post(path.format(slug=study.slug), data)
    assert response.status_code == 400
    assert field in response.content.decode()


def test_staff_ids_that_are_not_numbers_are_named(client, staff_user, study):
    client.force_login(staff_user)
    constitution = constitution_create(title="House rules")
    for field, action in [("principle", "add"), ("entry", "remove"), ("version", "publish")]:
        response = client.post(f"/dashboard/constitutions/{constitution.pk}/change/", {"action": action, field: "abc"})
        assert response.status_code in (400, 404) and response.status_code != 500
    response = client.post("/dashboard/principles/draft/", {"campaign": "abc"})
    assert response.status_code == 400 and "campaign" in response.content.decode()
    response = client.post(f"/c/{study.slug}/graph/snapshots/", {"wave": "abc"})
    assert response.status_code == 400 and "wave" in response.content.decode()


def test_a_moment_past_the_calendar_is_a_400(client, staff_user, study):
    client.force_login(staff_user)
    response = client.get(f"/c/{study.slug}/graph.json", {"as_of": "9999-12-31T23:59:59-14:00"})
    assert response.status_code == 400 and "as_of" in response.json()["detail"]


def test_api_refuses_deep_json_and_nul_characters(client, staff_user):
    from chorus.accounts.services import api_token_create

    _, plaintext = api_token_create(user=staff_user, name="fuzz", scopes=["write:targets", "read:data"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}
    deep = client.post("/api/v1/targets/freeze/", "[" * 100_000, content_type="application/json", **auth)
    assert deep.status_code == 400
    nul = client.post("/api/v1/targets/freeze/", json.dumps({"name": "a\x00b", "campaign": 1}),
                      content_type="application/json", **auth)
    assert nul.status_code == 400 and "name" in nul.json()["error"]["fields"]
    graph = client.get("/api/v1/campaigns/1/moral-graph/", {"as_of": "9999-12-31T23:59:59-14:00"}, **auth)
    assert graph.status_code in (400, 404)


def test_uploads_that_are_not_what_they_claim_are_named(client, staff_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(staff_user)
    deep = SimpleUploadedFile("principles.json", b"[" * 100_000, content_type="application/json")
    response = client.post("/dashboard/principles/salmon/", {"file": deep, "title": "Deep"})
    assert response.status_code < 500
    files = {"comments": SimpleUploadedFile("comments.csv", b"timestamp,comment-id\n"),
             "votes": SimpleUploadedFile("votes.csv", b"timestamp,comment-id\n"),
             "summary": SimpleUploadedFile("summary.csv", b"\xff\xfe\x00topic")}
    response = client.post("/dashboard/statements/import/polis/", files)
    assert response.status_code == 400 and "summary.csv" in response.content.decode()
