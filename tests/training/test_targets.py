"""Freezing targets: versioned, content-hashed JSONL files with provenance counts; empty sources refused."""
from __future__ import annotations

import hashlib
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from training.models import AlignmentTarget
from training.services.targets import target_freeze_constitution, target_freeze_moral_graph
from training.storage import target_dir

pytestmark = pytest.mark.django_db


def test_a_constitution_target_freezes_principles_and_prompts_with_hashes(toy_version):
    from tests.factories import CampaignFactory

    toy_version.constitution.campaign = CampaignFactory(questions=["What should I do?"])
    toy_version.constitution.save(update_fields=["campaign"])
    target = target_freeze_constitution(name="toy", constitution_version_id=toy_version.pk,
                                        extra_prompts=["How do I say sorry?", "  ", "How do I calm down?"])
    assert (target.kind, target.version, target.constitution_version_id) == ("constitution", 1, toy_version.pk)
    files = {f.name: f for f in target.files.all()}
    assert {n: f.rows for n, f in files.items()} == {"principles.jsonl": 2, "prompts.jsonl": 3}
    for f in files.values():
        data = (target_dir(target.uuid) / f.name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256 and len(data) == f.size_bytes
    prompts = [json.loads(line) for line in (target_dir(target.uuid) / "prompts.jsonl").read_text().splitlines()]
    assert prompts[0] == {"prompt": "What should I do?", "source": "campaign question"}
    assert prompts[1] == {"prompt": "How do I say sorry?", "source": "curator"}
    assert target.provenance["principles"] == 2 and target.provenance["negatable_principles"] == 2
    assert target.provenance["principles_by_provenance"] == {"authored": 2}
    assert target.provenance["prompts_from_campaign"] == 1 and "Toy constitution" in target.source_label

    again = target_freeze_constitution(name="toy", constitution_version_id=toy_version.pk,
                                       extra_prompts=["How do I say sorry?", "How do I calm down?"])
    assert again.version == 2 and again.content_sha256 == target.content_sha256  # same data, same hash


def test_a_draft_or_empty_source_is_refused_and_leaves_nothing(toy_version):
    from elicitation.services.constitutions import constitution_draft
    from elicitation.services.moral_graph import graph_snapshot_create
    from tests.factories import CampaignFactory

    draft = constitution_draft(constitution=toy_version.constitution)
    with pytest.raises(ValidationError) as exc:
        target_freeze_constitution(name="toy", constitution_version_id=draft.pk)
    assert "publish" in str(exc.value.message_dict["constitution_version"])
    snapshot = graph_snapshot_create(campaign=CampaignFactory())  # no votes: no values
    with pytest.raises(ValidationError) as exc:
        target_freeze_moral_graph(name="graph", snapshot_id=snapshot.pk)
    assert "no values" in str(exc.value.message_dict["graph_snapshot"])
    with pytest.raises(ValidationError) as exc:
        target_freeze_constitution(name=" ", constitution_version_id=toy_version.pk)
    assert "name" in exc.value.message_dict
    assert not AlignmentTarget.objects.exists()


def test_a_moral_graph_target_freezes_values_edges_and_contexts():
    from elicitation.models import GraphSnapshot
    from tests.factories import CampaignFactory

    summary = {
        "values": [{"id": 1, "title": "Honesty", "policies": ["MOMENTS when"], "pageRank": 0.4},
                   {"id": 2, "title": "Care", "policies": ["FEELINGS of"], "pageRank": 0.6}],
        "edges": [{"sourceValueId": 1, "wiserValueId": 2, "contexts": ["When grieving"],
                   "counts": {"markedWiser": 3, "markedNotWiser": 0, "markedLessWise": 0, "markedUnsure": 0,
                              "impressions": 3}, "summary": {"wiserLikelihood": 1.0, "entropy": 0.9}}],
        "contexts": {"7": "When grieving"},
    }
    snapshot = GraphSnapshot.objects.create(campaign=CampaignFactory(), as_of=timezone.now(), vote_count=3,
                                            summary=summary)
    target = target_freeze_moral_graph(name="graph", snapshot_id=snapshot.pk)
    assert {f.name: f.rows for f in target.files.all()} == {"values.jsonl": 2, "edges.jsonl": 1, "contexts.jsonl": 1}
    assert target.provenance == {"votes": 3, "values": 2, "edges": 1, "contexts": 1, "as_of": snapshot.as_of.isoformat()}
    edge = json.loads((target_dir(target.uuid) / "edges.jsonl").read_text())
    assert edge["wiserValueId"] == 2


def test_target_list_is_newest_first():
    # The run and model counts group rows, which drops Meta.ordering; the selector orders itself.
    from training.selectors import target_list

    assert target_list().query.order_by == ("-created_at", "-pk")
