"""Which two responses a comparison pairs: sampled with a seed each, never two identical ones, whole
sentences, rendered Markdown without markup that could run, and no repeated pair in the exports."""
import json

import pytest

from elicitation.domain import comparisons_exports as exports
from elicitation.domain.comparisons import model_label
from elicitation.domain.text import markdown_html, trim_to_sentence
from elicitation.models import Comparison
from elicitation.selectors.comparisons import comparisons_decided
from elicitation.services import comparisons as svc

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(participant):
    svc.system_message_write(participant=participant, text="Answer briefly.")
    return participant


def generate(comparison):
    for side in ("a", "b"):
        "".join(svc.comparison_stream(comparison=comparison, side=side))
    comparison.refresh_from_db()
    return comparison


def test_each_response_is_sampled_with_its_own_seed(writer, scripted_llm):
    scripted_llm.replies = ["One answer.", "Another answer."]
    c = generate(svc.comparison_create(participant=writer, prompt="Q?"))
    a, b = (call["params"] for call in scripted_llm.calls)
    assert a["temperature"] > 0 and b["temperature"] > 0
    assert a["seed"] != b["seed"] and (c.params_a["seed"], c.params_b["seed"]) == (a["seed"], b["seed"])
    again = svc.comparison_create(participant=writer, prompt="Q?")
    assert {again.params_a["seed"], again.params_b["seed"]}.isdisjoint({a["seed"], b["seed"]})


def test_a_response_equal_to_the_other_is_generated_again_with_a_new_seed(writer, scripted_llm):
    scripted_llm.replies = ["Same words here.", "Same  words HERE.", "Different words now."]
    c = svc.comparison_create(participant=writer, prompt="Q?")
    first_seed = c.params_b["seed"]
    c = generate(c)
    assert (c.response_a, c.response_b) == ("Same words here.", "Different words now.")
    assert c.params_b["seed"] != first_seed  # the seed that made what is stored
    retry = scripted_llm.calls[-1]
    assert retry["params"]["seed"] == c.params_b["seed"] and "system_message" not in retry["params"]
    assert svc.comparison_decide(comparison=c, choice="a").choice == "a"


def test_a_pair_that_stays_identical_is_refused_in_plain_words(writer, scripted_llm):
    scripted_llm.replies = ["Always this."]
    c = generate(svc.comparison_create(participant=writer, prompt="Q?"))
    assert c.is_identical
    assert len(scripted_llm.calls) == 2 + svc.DUPLICATE_RETRIES
    with pytest.raises(svc.ComparisonError, match="Both answers came out the same"):
        svc.comparison_decide(comparison=c, choice="a")
    assert Comparison.objects.get().choice == ""


def test_a_response_cut_at_the_token_limit_ends_on_its_last_whole_sentence(writer, scripted_llm):
    scripted_llm.replies = ["Sleep at the same time. Keep the room dark. You have the", "Rest well."]
    c = generate(svc.comparison_create(participant=writer, prompt="Q?"))
    assert c.response_a == "Sleep at the same time. Keep the room dark."
    assert svc.comparison_response(comparison=c, side="a") == c.response_a


@pytest.mark.parametrize("raw, whole", [
    ("Done.", "Done."),
    ("It works! Then it", "It works!"),
    ("He said “go.” Then he", "He said “go.”"),
    ("Tips:\n1. Sleep early\n2. Keep it da", "Tips:\n1. Sleep early"),
    ("no sentence end at all", "no sentence end at all"),
    ("Costs 3.5 dollars. And then", "Costs 3.5 dollars."),
])
def test_trim_to_sentence(raw, whole):
    assert trim_to_sentence(raw) == whole


def test_markdown_is_rendered_and_sanitised():
    html = markdown_html("**Bold** and *soft*\n\n- one\n- two\n\n<script>alert(1)</script>"
                         "<img src=x onerror=alert(1)> [link](javascript:alert(1))")
    assert "<strong>Bold</strong>" in html and "<em>soft</em>" in html and "<li>one</li>" in html
    assert "<script" not in html and "alert(1)</" not in html and "<img" not in html
    assert "onerror" not in html and "javascript:" not in html and "href" not in html


def test_the_same_pair_judged_twice_is_exported_once(writer, scripted_llm):
    for _ in range(2):
        scripted_llm.replies = ["Good answer.", "Bad answer."]
        c = generate(svc.comparison_create(participant=writer, prompt="Same prompt?"))
        svc.comparison_decide(comparison=c, choice="a")
    scripted_llm.replies = ["Bad answer.", "Good answer."]  # the same two, the other way round
    c = generate(svc.comparison_create(participant=writer, prompt="Same prompt?"))
    svc.comparison_decide(comparison=c, choice="b")
    rows = [json.loads(line) for line in b"".join(exports.jsonl(exports.trl_rows(
        comparisons_decided(campaign=writer.campaign)))).splitlines()]
    assert rows == [{"prompt": "Same prompt?", "chosen": "Good answer.", "rejected": "Bad answer."}]


def test_model_labels_are_plain_words():
    assert model_label("local:smollm2 +system") == "local:smollm2, with the participant's system message"
    assert model_label("local:smollm2 -system") == "local:smollm2, without a system message"
    assert model_label("openai:gpt") == "openai:gpt"
