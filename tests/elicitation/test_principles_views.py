"""Staff pages for principles and constitutions, over the Django test client."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from elicitation.models import Constitution, ConstitutionVersion, Principle
from elicitation.services import constitutions as svc
from tests.support.shared_data import SALMON_PRINCIPLES, needs_salmon_principles, shared_data

SALMON = shared_data(SALMON_PRINCIPLES)

pytestmark = pytest.mark.django_db


def test_pages_are_for_staff_only(client):
    for name in ("dashboard:principles", "dashboard:constitutions", "dashboard:statements_campaigns"):
        assert client.get(reverse(name)).status_code == 302


def test_author_a_principle_and_publish_a_constitution(admin_client):
    response = admin_client.post(reverse("dashboard:principles"), {"name": "", "definition": "", "kind": "rule"})
    assert response.status_code == 400 and "A principle needs a name." in response.content.decode()
    admin_client.post(reverse("dashboard:principles"), {
        "name": "Refuse Harm", "definition": "The AI should refuse to help hurt people.",
        "negated_definition": "The AI should avoid refusing.", "kind": "safety_config"})
    principle = Principle.objects.get()
    assert principle.kind == "safety_config" and principle.provenance == "authored"

    response = admin_client.post(reverse("dashboard:constitutions"), {"title": "Safety", "description": ""})
    constitution = Constitution.objects.get()
    assert response.url == reverse("dashboard:constitution_detail", args=[constitution.pk])
    change = reverse("dashboard:constitution_change", args=[constitution.pk])
    admin_client.post(change, {"action": "add", "principle": principle.pk})
    draft = constitution.versions.get()
    admin_client.post(change, {"action": "publish", "version": draft.pk, "notes": "launch"})
    draft.refresh_from_db()
    assert draft.is_published and draft.notes == "launch"

    # Changing a published version through the page is refused; editing starts version 2.
    entry = draft.entries.get()
    admin_client.post(change, {"action": "remove", "entry": entry.pk}, follow=True)
    assert draft.entries.count() == 1
    page = admin_client.get(reverse("dashboard:constitution_detail", args=[constitution.pk])).content.decode()
    assert "Edit: start version 2" in page
    admin_client.post(change, {"action": "new_draft"})
    assert [(v.number, v.is_published) for v in constitution.versions.all()] == [(1, True), (2, False)]

    export = admin_client.get(reverse("dashboard:constitution_version_salmon", args=[draft.pk]))
    assert export.json() == [{"dimension": "Refuse Harm", "definition": "The AI should refuse to help hurt people.",
                              "negative_definition": "The AI should avoid refusing."}]


def test_proposals_are_approved_or_discarded(admin_client):
    keep = svc.principle_create(name="Keep", definition="The AI should keep.", status=Principle.Status.PROPOSED)
    drop = svc.principle_create(name="Drop", definition="The AI should drop.", status=Principle.Status.PROPOSED)
    page = admin_client.get(reverse("dashboard:principles")).content.decode()
    assert "Awaiting a curator" in page and "Keep" in page
    admin_client.post(reverse("dashboard:principle_review", args=[keep.pk]), {"action": "approve"})
    admin_client.post(reverse("dashboard:principle_review", args=[drop.pk]), {"action": "discard"})
    assert list(Principle.objects.values_list("name", "status")) == [("Keep", "approved")]


@needs_salmon_principles
def test_salmon_upload(admin_client):
    upload = SimpleUploadedFile("principle_collection_honest.json",
                                (SALMON / "principle_collection_honest.json").read_bytes())
    response = admin_client.post(reverse("dashboard:salmon_import"), {"file": upload})
    version = ConstitutionVersion.objects.get()
    assert response.url == reverse("dashboard:constitution_detail", args=[version.constitution_id])
    assert version.entries.count() == 8 and not version.is_published

    bad = SimpleUploadedFile("bad.json", b'[{"dimension": "x"}]')
    response = admin_client.post(reverse("dashboard:salmon_import"), {"file": bad}, follow=True)
    assert "Nothing was imported: bad.json item 1: definition must be a non-empty string" in response.content.decode()
    assert ConstitutionVersion.objects.count() == 1
