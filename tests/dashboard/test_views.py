"""The staff dashboard: only staff get in; pages show services, workers, probes and tokens."""
import pytest

from chorus.accounts.models import ApiToken
from chorus.dashboard.models import QueueProbe
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/dashboard/", "/dashboard/tokens/", "/dashboard/playground/", "/dashboard/workers/"])
def test_anonymous_and_participants_are_sent_to_login(client, django_user_model, url):
    assert client.get(url).status_code == 302
    client.force_login(django_user_model.objects.create_user(username="p", password="pw-123456-x"))
    assert client.get(url)["Location"].startswith("/login/")


def test_dashboard_lists_campaigns_with_join_links(client, staff_user, django_assert_max_num_queries):
    for _ in range(3):
        CampaignFactory()
    client.force_login(staff_user)
    with django_assert_max_num_queries(8):  # no query per campaign
        page = client.get("/dashboard/").content.decode()
    assert page.count("/join/") == 3


def test_dashboard_empty_state(client, staff_user):
    client.force_login(staff_user)
    assert "No campaigns yet" in client.get("/dashboard/").content.decode()


def test_services_panel_reports_all_reachable(client, staff_user):
    client.force_login(staff_user)
    assert "all reachable" in client.get("/dashboard/services/").content.decode()


def test_workers_panel_says_how_to_start_workers_when_none_answer(client, staff_user, monkeypatch):
    from chorus.dashboard import selectors

    # Whether a test worker happens to be running is not this test's business: fix the answer.
    monkeypatch.setattr(selectors, "workers_online", lambda **_: [])
    client.force_login(staff_user)
    body = client.get("/dashboard/workers/").content.decode()
    assert "No worker is running" in body and "celery -A chorus worker -Q gpu -P solo -c 1" in body


def test_workers_panel_lists_workers_and_their_queues(client, staff_user, monkeypatch):
    from chorus.dashboard import selectors

    monkeypatch.setattr(selectors, "workers_online",
                        lambda **_: [selectors.WorkerInfo(name="gpu@box", queues=("gpu",))])
    client.force_login(staff_user)
    body = client.get("/dashboard/workers/").content.decode()
    assert "<td>gpu@box</td><td>gpu</td>" in body and "No worker is running" not in body


def test_probe_form_refuses_unknown_queue(client, staff_user):
    client.force_login(staff_user)
    refused = client.post("/dashboard/probes/", {"queue": "tpu"}, follow=True)
    assert refused.redirect_chain == [("/dashboard/", 302)]
    assert "Unknown queue &#x27;tpu&#x27;; known: default, gpu." in refused.content.decode()
    assert not QueueProbe.objects.exists()
    # The same form with a known queue does send a probe: the refusal above is the queue's doing.
    sent = client.post("/dashboard/probes/", {"queue": "gpu"}, HTTP_HX_REQUEST="true")
    assert list(QueueProbe.objects.values_list("queue", "sent_by")) == [("gpu", staff_user.pk)]
    assert '<tr data-queue="gpu">' in sent.content.decode()


def test_token_is_shown_once(client, staff_user):
    client.force_login(staff_user)
    created = client.post("/dashboard/tokens/", {"name": "export", "scopes": ["read:data", "read:models"]})
    token = ApiToken.objects.get()
    body = created.content.decode()
    assert f"chorus_{token.prefix}_" in body and "shown only this once" in body
    again = client.get("/dashboard/tokens/").content.decode()
    assert f"chorus_{token.prefix}_…" in again
    assert "shown only this once" not in again


def test_token_form_errors_are_shown(client, staff_user):
    client.force_login(staff_user)
    response = client.post("/dashboard/tokens/", {"name": "x"})
    assert response.status_code == 400
    assert "Choose at least one scope" in response.content.decode()


def test_playground_refuses_empty_prompt(client, staff_user):
    client.force_login(staff_user)
    response = client.post("/dashboard/playground/", {"prompt": "  "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Write a prompt" in response.content.decode()


def test_playground_stream_is_single_use(client, staff_user, scripted_llm):
    scripted_llm.replies = ["Paris is the capital."]
    client.force_login(staff_user)
    client.post("/dashboard/playground/", {"prompt": "What is the capital of France?"}, HTTP_HX_REQUEST="true")
    stream_id = next(k for k in client.session.keys() if k.startswith("playground."))[len("playground."):]
    url = f"/dashboard/playground/stream/{stream_id}/"

    first = b"".join(client.get(url).streaming_content).decode()
    assert "event: token\ndata: Paris " in first and "event: done" in first and "already streamed" not in first
    assert scripted_llm.calls[-1]["messages"] == [{"role": "user", "content": "What is the capital of France?"}]

    again = client.get(url)
    assert "event: failed" in again.content.decode() and "already streamed" in again.content.decode()
    assert len(scripted_llm.calls) == 1  # the second request generated nothing
