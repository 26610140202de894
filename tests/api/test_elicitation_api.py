"""Values, moral graphs and comparison datasets over the API."""
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from elicitation.models import Comparison
from elicitation.services.moral_graph import graph_snapshot_create
from tests.factories import CampaignFactory, make_edge_vote, make_participant, make_system_message, make_wave
from tests.support.seed import seed_peer_values

pytestmark = pytest.mark.django_db
T0 = timezone.now() - timedelta(days=5)


@pytest.fixture
def campaign():
    campaign = CampaignFactory()
    cards = seed_peer_values(campaign.questions.get(), stories=0)
    context = campaign.contexts.get()
    for day in range(3):
        voter = make_participant(campaign, at=T0)
        make_edge_vote(voter, cards[0], cards[1], context, at=T0 + timedelta(days=day))
    return campaign


def add_comparisons(campaign, n, *, at):
    participant = make_participant(campaign, at=at)
    sm = make_system_message(participant, "Be brief.", at=at)
    Comparison.objects.bulk_create([
        Comparison(campaign=campaign, participant=participant, system_message=sm, system_message_text=sm.text,
                   prompt=f"P{i}", mode="with_without", model_a="m+", model_b="m-", params_a={}, params_b={},
                   response_a=f"A{i}", response_b=f"B{i}", a_on_left=True, choice="a", decided_at=at)
        for i in range(n)
    ])


def lines(response):
    return [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]


def test_values_list_with_filters(api, campaign):
    body = api.get("/api/v1/values/", {"campaign": campaign.pk}).json()
    assert body["count"] == 7 and body["results"][0]["policies"]


def test_malformed_filters_get_a_400_naming_the_field(api, campaign):
    response = api.get("/api/v1/values/", {"campaign": "abc"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"].keys() == {"campaign"} and "campaign" in error["message"]
    bad_date = api.get(f"/api/v1/campaigns/{campaign.pk}/moral-graph/", {"as_of": "yesterday"})
    assert bad_date.status_code == 400 and "as_of" in bad_date.json()["error"]["fields"]
    bad_format = api.get("/api/v1/datasets/comparisons/", {"campaign": campaign.pk, "format": "csv"})
    assert bad_format.status_code == 400 and "format" in bad_format.json()["error"]["fields"]


def test_moral_graph_is_mai_json(api, campaign):
    body = api.get(f"/api/v1/campaigns/{campaign.pk}/moral-graph/").json()
    [edge] = body["edges"]
    assert edge["counts"]["markedWiser"] == 3 and body["voteCount"] == 3
    assert {"sourceValueId", "wiserValueId", "contexts", "counts", "summary"} <= edge.keys()
    past = api.get(f"/api/v1/campaigns/{campaign.pk}/moral-graph/",
                   {"as_of": (T0 + timedelta(hours=1)).isoformat()}).json()
    assert past["voteCount"] == 1 and past["edges"] == []


def test_snapshots_are_listed(api, campaign):
    graph_snapshot_create(campaign=campaign)
    [snapshot] = api.get(f"/api/v1/campaigns/{campaign.pk}/snapshots/").json()["results"]
    assert snapshot["vote_count"] == 3 and snapshot["summary"]["edges"]


def test_unknown_campaign_is_a_plain_404(api):
    response = api.get("/api/v1/campaigns/999999/moral-graph/")
    assert response.status_code == 404 and response.json()["error"]["status"] == 404


def test_dataset_streams_and_filters_by_date_and_wave(api, campaign):
    add_comparisons(campaign, 3, at=T0)
    add_comparisons(campaign, 2, at=T0 + timedelta(days=3))
    make_wave(campaign, T0 - timedelta(days=1))
    make_wave(campaign, T0 + timedelta(days=2))
    everything = api.get("/api/v1/datasets/comparisons/", {"campaign": campaign.pk})
    assert everything["Content-Type"] == "application/x-ndjson" and len(lines(everything)) == 5
    assert len(lines(api.get("/api/v1/datasets/comparisons/", {"campaign": campaign.pk, "wave": 2}))) == 2
    since = (T0 + timedelta(days=1)).isoformat()
    assert len(lines(api.get("/api/v1/datasets/comparisons/", {"campaign": campaign.pk, "since": since}))) == 2
    assert api.get("/api/v1/datasets/comparisons/", {"campaign": campaign.pk, "wave": 9}).status_code == 400


def test_signed_link_works_without_a_header_and_only_as_signed(api, campaign, client):
    add_comparisons(campaign, 2, at=T0)
    link = api.get("/api/v1/datasets/comparisons/link/", {"campaign": campaign.pk, "format": "trl"}).json()["url"]
    path = link.split("testserver", 1)[1]
    assert len(lines(client.get(path))) == 2
    tampered = client.get(path.replace("format=trl", "format=multifaceted"))
    assert tampered.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_datasets_load_dataset_reads_an_export_url(api, campaign, live_server):
    import datasets

    add_comparisons(campaign, 4, at=T0)
    link = api.get("/api/v1/datasets/comparisons/link/", {"campaign": campaign.pk, "format": "trl"}).json()["url"]
    url = live_server.url + link.split("testserver", 1)[1]
    loaded = datasets.load_dataset("json", data_files=url, split="train")
    assert loaded.num_rows == 4 and set(loaded.column_names) == {"prompt", "chosen", "rejected"}


@pytest.mark.parametrize("params", [{"limit": 10**30}, {"offset": 10**30}, {"limit": 10**30, "offset": 10**30}])
def test_absurd_pagination_is_a_normal_page(api, campaign, params):
    # Found by bench/api_fuzz.py: these used to overflow PostgreSQL's bigint and answer 500.
    response = api.get("/api/v1/values/", params)
    assert response.status_code == 200
    assert len(response.json()["results"]) <= 500
