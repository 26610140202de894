"""The interview protocol: stages owned by the platform, one question per turn, sentence boundaries, no repeats."""
import re

import pytest

from elicitation.domain import interviews as protocol
from elicitation.models import InterviewMessage
from elicitation.prompts import interviews as prompts
from elicitation.services import interviews as svc

STORY = "My sister found out she was pregnant at nineteen and everyone at church told her what to do."
CUT = "Thank you for telling me about your sister. You have the"


def start(participant):
    return svc.interview_start(participant=participant, question=participant.campaign.questions.get())


def chat(interview, text):
    svc.interview_message_add(interview=interview, text=text)
    "".join(svc.interview_reply_stream(interview=interview))
    return interview.messages.last().content


def assistant_turns(interview):
    return list(interview.messages.filter(role=InterviewMessage.Role.ASSISTANT).values_list("content", flat=True))


def ends_on_one_question(turn: str) -> bool:
    return turn.endswith("?") and turn.count("?") == 1


# The protocol itself, without a database.

def test_stages_follow_mai_interview_order_and_a_thin_story_is_asked_about_again():
    assert protocol.next_stage([]) == "story"
    assert protocol.next_stage(["Yes."]) == "story"  # too thin: one more question about what happened
    assert protocol.next_stage(["Yes.", "No."]) == "attention"  # asked twice: move on anyway
    assert protocol.next_stage([STORY]) == "attention"
    assert protocol.next_stage([STORY, "Her face."]) == "meaning"
    assert protocol.next_stage([STORY, "Her face.", "Freedom."]) == "enough"
    assert protocol.next_stage([STORY, "a", "b", "c", "d"]) == "enough"


def test_a_reply_cut_mid_word_is_trimmed_to_its_last_sentence_and_gets_the_stage_question():
    reply = protocol.reply_finish(CUT, questions=["What did you notice?"], fallback="Why?", earlier=[])
    assert reply.text == "Thank you for telling me about your sister. What did you notice?"
    assert reply.source == "model+stage"


def test_only_the_first_question_is_kept_with_at_most_two_sentences_before_it():
    raw = "I see. That is hard. You were brave. What did you notice first? And then what?"
    assert protocol.reply_finish(raw, questions=["Q one here?"], fallback="Why?", earlier=[]).text == \
        "I see. That is hard. What did you notice first?"


def test_a_repeated_or_fragmentary_question_is_replaced_by_the_stage_question():
    earlier = ["Hi. What did you pay attention to then?"]
    repeat = protocol.reply_finish("Okay. What did you pay attention to then?", questions=["What felt meaningful?"],
                                   fallback="Why?", earlier=earlier)
    assert repeat.text == "Okay. What felt meaningful?"
    assert protocol.reply_finish("Really?", questions=["What felt meaningful?"], fallback="Why?",
                                 earlier=[]).text == "What felt meaningful?"


def test_when_every_wording_was_asked_the_turn_is_still_new():
    questions = ["What felt meaningful to you?"]
    earlier: list[str] = []
    for _ in range(4):
        earlier.append(protocol.reply_finish("", questions=questions, fallback="And why was that?",
                                             earlier=earlier).text)
    assert len(set(earlier)) == 4 and all(ends_on_one_question(t) for t in earlier)


# The service, with a scripted model.

@pytest.mark.django_db
def test_a_reply_without_a_question_ends_with_the_stage_question(participant, scripted_llm):
    scripted_llm.replies = ["That sounds like a very hard time for your family. I am sorry."]
    interview = start(participant)
    turn = chat(interview, STORY)
    assert turn == "That sounds like a very hard time for your family. I am sorry. " \
                   + prompts.STAGE_QUESTIONS["attention"][0]
    system = scripted_llm.calls[-1]["messages"][0]["content"]
    assert prompts.STAGE_GOALS["attention"] in system  # the model is told which stage it phrases


@pytest.mark.django_db
def test_a_reply_cut_at_its_token_budget_ends_at_a_sentence_boundary(participant, scripted_llm):
    scripted_llm.replies = [CUT]
    interview = start(participant)
    turn = chat(interview, STORY)
    assert "You have the" not in turn and turn.startswith("Thank you for telling me about your sister.")
    assert ends_on_one_question(turn)


@pytest.mark.django_db
def test_a_model_that_repeats_itself_never_produces_two_identical_turns(participant, scripted_llm):
    scripted_llm.replies = ["What did you pay attention to then?"]  # every reply, word for word
    interview = start(participant)
    for text in [STORY, "Her face when she was scared.", "She could choose.", "Nothing else.", "Still no.",
                 "Really nothing.", "No.", "No."]:
        chat(interview, text)
    turns = assistant_turns(interview)
    assert len(turns) == 9 and len(set(turns)) == 9
    assert turns[0].endswith("?")  # the opening, which also quotes the study's question
    assert all(ends_on_one_question(t) for t in turns[1:]), turns


@pytest.mark.django_db
def test_each_turn_is_sampled_with_its_own_seed(participant, scripted_llm):
    interview = start(participant)
    chat(interview, STORY)
    chat(interview, "Her face when she was scared.")
    first, second = (c["params"] for c in scripted_llm.calls)
    assert first["temperature"] > 0 and first["seed"] != second["seed"]
    assert first["max_tokens"] >= 200


@pytest.mark.django_db
def test_card_notes_are_questions_and_never_repeat(participant, scripted_llm):
    interview = start(participant)
    chat(interview, STORY)
    svc.interview_draft(interview=interview)
    svc.interview_draft(interview=interview)
    svc.interview_revise(interview=interview, request="More about honesty.")
    svc.interview_revise(interview=interview, request="Shorter.")
    turns = assistant_turns(interview)
    assert len(set(turns)) == len(turns) == 6
    assert all(ends_on_one_question(t) for t in turns[1:])


@pytest.mark.slow
@pytest.mark.django_db
def test_the_bundled_model_asks_one_new_question_per_turn(participant, settings):
    """SmolLM2-135M on CPU, two turns: whatever it writes, each stored turn follows the protocol."""
    import chorus.llm

    settings.CHORUS_LLM_BACKEND = "local"
    chorus.llm.chat_backend.cache_clear()
    interview = start(participant)
    chat(interview, STORY)
    chat(interview, "I noticed whether people asked her what she wanted, or just told her.")
    turns = assistant_turns(interview)
    assert len(turns) == 3 and len(set(turns)) == 3
    for turn in turns[1:]:
        assert ends_on_one_question(turn), turn
        assert all(re.search(r"[.!?][\"'”’)\]]*$", s) for s in protocol.sentences(turn))
    chorus.llm.chat_backend.cache_clear()
