"""SALMON principle JSON: the real files import and export byte for byte; bad files are refused."""
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from elicitation.domain.constitutions_salmon import SalmonFormatError, salmon_read
from elicitation.models import Constitution, Principle
from elicitation.selectors.constitutions import constitution_version_entries, constitution_version_salmon_json
from elicitation.services import constitutions as svc
from tests.support.shared_data import SALMON_PRINCIPLES, needs_salmon_principles, shared_data

SALMON = shared_data(SALMON_PRINCIPLES)
NAMES = [
    "principle_collection_harmless.json", "principle_collection_honest.json",
    "principle_collection_non_evasive.json", "principle_collection_ppo.json", "principle_collection_rm.json",
]
FILES = [SALMON / name for name in NAMES]  # named, not globbed: an absent folder must not empty the parameters

pytestmark = pytest.mark.django_db


@needs_salmon_principles
def test_the_real_files_are_there():
    assert [f.name for f in sorted(SALMON.glob("*.json"))] == NAMES


@needs_salmon_principles
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_round_trip_through_a_published_version(path):
    original = path.read_text(encoding="utf-8")
    version = svc.salmon_import(name=path.name, data=path.read_bytes())
    records = json.loads(original)
    assert version.entries.count() == len(records)
    assert Principle.objects.filter(provenance="imported").count() == len(records)
    svc.constitution_version_publish(version=version)
    exported = constitution_version_salmon_json(version=version)
    assert json.loads(exported) == records
    assert exported == original  # byte for byte, layout included
    entries = constitution_version_entries(version.pk)
    assert entries[0]["name"] == records[0]["dimension"]
    assert [e["negated_definition"] for e in entries] == [r.get("negative_definition", "") for r in records]


@needs_salmon_principles
def test_negated_definitions_and_weights_are_kept():
    version = svc.salmon_import(name="rm.json", data=(SALMON / "principle_collection_rm.json").read_bytes())
    first = version.entries.get(position=0)
    assert first.name == "Overall Helpful" and first.negated_definition == "The AI should avoid generating a helpful response."
    assert first.weight is None
    version = svc.salmon_import(name="h.json", data=(SALMON / "principle_collection_harmless.json").read_bytes())
    assert version.entries.get(position=0).weight == 10


@pytest.mark.parametrize("data, problem", [
    (b"{not json", "x.json: not JSON"),
    (b"{}", "x.json: must be a non-empty JSON list of principles."),
    (b'[{"dimension": "A", "definition": ""}]', "x.json item 1: definition must be a non-empty string"),
    (b'[{"dimension": "A", "definition": "d", "weight": "high"}]', "x.json item 1: weight must be a whole number"),
    (b'[{"dimension": "A", "definition": "d", "colour": 1}]', "x.json item 1: unknown key 'colour'"),
    (b'[{"dimension": "A", "definition": "d"}, 3]', "x.json item 2: must be a JSON object."),
    (b'[{"dimension": "A", "definition": "d"}, {"dimension": "A", "definition": "e"}]', "x.json: the dimension 'A' appears twice."),
])
def test_bad_files_are_refused_and_nothing_is_written(data, problem):
    with pytest.raises(SalmonFormatError) as refused:
        salmon_read(data, name="x.json")
    assert any(p.startswith(problem) for p in refused.value.problems), refused.value.problems
    with pytest.raises(ValidationError):
        svc.salmon_import(name="x.json", data=data)
    assert not Constitution.objects.exists() and not Principle.objects.exists()


@needs_salmon_principles
def test_management_command_imports_every_file_or_none(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(Exception, match="Nothing was imported"):
        call_command("import_salmon", str(FILES[0]), str(bad))
    assert not Constitution.objects.exists()
    call_command("import_salmon", *map(str, FILES))
    assert Constitution.objects.count() == 5
    assert "principle_collection_ppo" in capsys.readouterr().out
