"""System messages, comparisons and their exports, with a scripted LLM."""
import json

import pytest
from django.core.exceptions import ValidationError

from elicitation.domain import comparisons_exports as exports
from elicitation.models import Campaign, Comparison
from elicitation.selectors.comparisons import comparisons_decided
from elicitation.services import comparisons as svc

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(participant):
    svc.system_message_write(participant=participant, text="Answer briefly. Respect my faith.",
                             dimensions={"style": "brief", "harmlessness": "respect my faith", "bogus": "x"})
    return participant


def judged(participant, scripted_llm, choice="a", prompt="What should I do?"):
    comparison = svc.comparison_create(participant=participant, prompt=prompt)
    for side in ("a", "b"):
        "".join(svc.comparison_stream(comparison=comparison, side=side))
    return svc.comparison_decide(comparison=comparison, choice=choice, reason="clearer")


@pytest.mark.parametrize("text, field", [("", "text"), ("x" * 2001, "text")])
def test_bad_system_messages_are_refused(participant, text, field):
    with pytest.raises(ValidationError) as exc:
        svc.system_message_write(participant=participant, text=text)
    assert field in exc.value.message_dict


def test_only_known_dimensions_are_kept(writer):
    assert writer.system_messages.get().dimensions == {"style": "brief", "harmlessness": "respect my faith"}


def test_everything_is_recorded(writer, scripted_llm):
    scripted_llm.replies = ["First answer.", "Second answer."]
    c = judged(writer, scripted_llm, choice="b")
    assert (c.response_a, c.response_b) == ("First answer.", "Second answer.")
    assert c.system_message_text == "Answer briefly. Respect my faith."
    assert c.model_a.endswith("+system") and c.model_b.endswith("-system")
    assert c.params_a["system_message"] is True and c.params_b["system_message"] is False
    assert isinstance(c.a_on_left, bool) and c.choice == "b" and c.reason == "clearer" and c.decided_at
    with_system, without = (call["messages"] for call in scripted_llm.calls[-2:])
    assert with_system[0] == {"role": "system", "content": "Answer briefly. Respect my faith."}
    assert [m["role"] for m in without] == ["user"]


def test_left_right_order_is_randomised(writer):
    # A fair coin per comparison: 16 of the same side would happen once in 32,768 runs.
    orders = {svc.comparison_create(participant=writer, prompt=f"Q{i}").a_on_left for i in range(16)}
    assert orders == {True, False}


def test_a_pair_is_judged_once(writer, scripted_llm):
    scripted_llm.replies = ["One answer.", "Another answer."]  # an identical pair is refused outright
    c = judged(writer, scripted_llm)
    with pytest.raises(svc.ComparisonError, match="already judged"):
        svc.comparison_decide(comparison=c, choice="b")
    assert Comparison.objects.get().choice == "a"


def test_judging_before_both_responses_is_refused(writer, scripted_llm):
    c = svc.comparison_create(participant=writer, prompt="Q?")
    with pytest.raises(svc.ComparisonError, match="Wait until both"):
        svc.comparison_decide(comparison=c, choice="a")


@pytest.mark.parametrize("prompt", ["", "x" * 1001])
def test_bad_prompts_are_refused(writer, prompt):
    with pytest.raises(ValidationError):
        svc.comparison_create(participant=writer, prompt=prompt)
    assert not Comparison.objects.exists()


def test_oversized_reason_is_refused(writer, scripted_llm):
    c = svc.comparison_create(participant=writer, prompt="Q?")
    for side in "ab":
        "".join(svc.comparison_stream(comparison=c, side=side))
    with pytest.raises(ValidationError):
        svc.comparison_decide(comparison=c, choice="a", reason="x" * 1001)
    assert Comparison.objects.get().choice == ""


def test_a_system_message_is_needed_first(participant):
    with pytest.raises(svc.ComparisonError, match="system message first"):
        svc.comparison_create(participant=participant, prompt="Q?")


def test_per_participant_cap(writer, scripted_llm, monkeypatch):
    monkeypatch.setattr(svc, "COMPARISONS_PER_PARTICIPANT", 2)
    svc.comparison_create(participant=writer, prompt="1")
    svc.comparison_create(participant=writer, prompt="2")
    with pytest.raises(svc.ComparisonError, match="the most one person can make"):
        svc.comparison_create(participant=writer, prompt="3")
    assert Comparison.objects.count() == 2


def test_closed_campaign_refuses_comparisons(writer):
    Campaign.objects.filter(pk=writer.campaign_id).update(status=Campaign.Status.CLOSED)
    writer.campaign.refresh_from_db()
    with pytest.raises(svc.ComparisonError, match="closed"):
        svc.comparison_create(participant=writer, prompt="Q?")


def test_exports_in_each_format(writer, scripted_llm):
    scripted_llm.replies = ["Good.", "Bad.", "Fine.", "Also fine."]
    judged(writer, scripted_llm, choice="a", prompt="P1")
    judged(writer, scripted_llm, choice="tie", prompt="P2")
    rows = {fmt: [json.loads(line) for line in b"".join(exports.jsonl(exports.ROWS[fmt](
        comparisons_decided(campaign=writer.campaign)))).splitlines()] for fmt in exports.FORMATS}
    assert rows["trl"] == [{"prompt": "P1", "chosen": "Good.", "rejected": "Bad."}]  # ties carry no direction
    conv = rows["trl_conversational"][0]
    assert conv["prompt"][0] == {"role": "system", "content": "Answer briefly. Respect my faith."}
    assert conv["chosen"] == [{"role": "assistant", "content": "Good."}]
    assert rows["multifaceted"][0]["preference_set"] == [
        {"dimension": "harmlessness", "preference": "respect my faith"}, {"dimension": "style", "preference": "brief"}]
    [context_set] = rows["context_sets"]
    assert len(context_set["pairs"]) == 1 and str(writer.public_id) not in json.dumps(context_set)
