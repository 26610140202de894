"""bench/salmon_real.py and bench/janus_real.py: the split, what each condition shows the model, and
the table and JSON of a whole run at a tiny size on the 2-layer test Llama (no Django)."""
from __future__ import annotations

import gzip
import json
import random

import pytest

from bench import janus_real, real_text, salmon_real
from tests.support.shared_data import needs_hh_hidden_context, shared_data
from training.methods.common.population import PrefPair

CONDITIONS = {"own", "other", "none", "trained_without"}


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from tests.support.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def two_groups(people: int = 8, pairs_each: int = 12) -> tuple[list[PrefPair], dict[str, str]]:
    """Helpful people choose the response that names them, harmless people theirs."""
    rng = random.Random(0)
    pairs, groups = [], {}
    for i in range(people):
        user, group = f"u{i}", ("helpful", "harmless")[i % 2]
        groups[user] = group
        other = real_text.other(group, ["helpful", "harmless"])
        for j in range(pairs_each):
            pairs.append(PrefPair(user, f"Human: question {i}-{j} {rng.random():.3f}\n\nAssistant:",
                                  f"{group} answer {j}", f"{other} answer {j}"))
    return pairs, groups


def write_files(tmp_path, pairs, groups):
    data, users = tmp_path / "pairs.jsonl.gz", tmp_path / "users.csv"
    with gzip.open(data, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps({"user": p.user, "prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected}) + "\n"
                     for p in pairs)
    users.write_text("user,objective\n" + "".join(f"{u},{g}\n" for u, g in groups.items()))
    return data, users


def test_the_split_holds_each_persons_last_pairs_out_and_scores_every_group_on_as_many():
    pairs, groups = two_groups(people=8, pairs_each=12)
    parts = real_text.split(pairs, groups, seed=1, rows=40, eval_rows=5)
    assert len(parts.train) == 40 and not set(parts.train) & set(parts.held_out)
    assert sorted(groups[p.user] for p in parts.held_out) == ["harmless"] * 5 + ["helpful"] * 5
    assert real_text.split(pairs, groups, seed=2, rows=40, eval_rows=5).held_out != parts.held_out


def test_validation_scores_training_pairs_only_and_never_sees_the_held_out_pairs():
    pairs, groups = two_groups(people=8, pairs_each=12)
    outer = real_text.split(pairs, groups, seed=3, rows=1000, eval_rows=1000)
    inner = real_text.split(pairs, groups, seed=3, rows=1000, eval_rows=1000, validate=True)
    assert set(inner.train) | set(inner.held_out) == set(outer.train)
    assert not set(inner.train) & set(inner.held_out) and inner.held_out
    assert {p.user for p in inner.held_out} == {p.user for p in pairs}  # everyone's last training pairs


def test_trimming_takes_the_lengths_it_is_given():
    pair = real_text.trimmed(PrefPair("u", "x" * 50 + "end", "yes" * 50, "no"), prompt_chars=10, response_chars=4)
    assert (pair.prompt, pair.chosen, pair.rejected) == ("x" * 7 + "end", "yesy", "no")


def test_long_prompts_keep_their_end_and_long_responses_their_start():
    pair = real_text.trimmed(PrefPair("u", "old turn " * 200 + "last question", "yes " * 200, "no"))
    assert pair.prompt.endswith("last question") and len(pair.prompt) == real_text.PROMPT_CHARS
    assert pair.chosen.startswith("yes") and len(pair.chosen) == real_text.RESPONSE_CHARS and pair.rejected == "no"


class PrincipleReader:
    """A reward that prefers the response naming the group whose principle it is shown, and has no
    preference without a principle: right under the own principle, wrong under the other's."""

    def score_batch(self, items):
        rewards = []
        for principles, _, response in items:
            wanted = [g for g, text in real_text.PRINCIPLES.items() if text in principles]
            rewards.append(float(bool(wanted) and response.startswith(wanted[0])))
        return rewards


def test_salmon_conditions_show_the_own_the_other_or_no_principle():
    pairs, groups = two_groups()
    figures = salmon_real.evaluate(PrincipleReader(), pairs, groups, ("own", "other", "none"))
    assert figures["own"] == {"helpful": 1.0, "harmless": 1.0, "all": 1.0}
    assert figures["other"] == {"helpful": 0.0, "harmless": 0.0, "all": 0.0}
    assert figures["none"]["all"] == 0.5  # a tie is a coin flip, half right (as in every method's accuracy)


def test_salmon_examples_carry_each_persons_group_principle_and_label():
    pairs, groups = two_groups(people=2, pairs_each=1)
    first, second = salmon_real.examples(pairs, groups)
    assert [s.text for s in first.shown] == [real_text.PRINCIPLES["helpful"]] and first.chosen == "helpful answer 0"
    assert [s.text for s in second.shown] == [real_text.PRINCIPLES["harmless"]] and second.chosen == "harmless answer 0"


def test_janus_conditions_show_the_own_the_other_or_no_system_message():
    pairs, groups = two_groups()
    seen = []

    def accuracy(scored, with_system):
        seen.append({p.system for p in scored} if with_system else None)
        # Right when the system message shown is the one the chosen response's group writes.
        return sum(with_system and p.system == real_text.SYSTEM_MESSAGES[p.chosen.split()[0]] for p in scored) / len(scored)

    figures = janus_real.evaluate(accuracy, pairs, groups, ("own", "other", "none"))
    assert figures["own"]["all"] == 1.0 and figures["other"]["all"] == 0.0 and figures["none"]["all"] == 0.0
    assert seen[:2] == [{real_text.SYSTEM_MESSAGES["harmless"]}, {real_text.SYSTEM_MESSAGES["helpful"]}]
    assert seen[-1] is None


def _check_figures(figures, printed, seeds):
    assert set(figures["accuracy"]) == CONDITIONS
    for cells in figures["accuracy"].values():
        assert set(cells) == {"helpful", "harmless", "all"}
        assert all(len(c["per_seed"]) == seeds and 0.0 <= c["mean"] <= 1.0 for c in cells.values())
    assert len(figures["goals"]) == 4 and all(set(g) == {"margin", "met"} for g in figures["goals"].values())
    assert "helpful: own >= none + 0.05" in figures["goals"] and "goals (margin" in printed


@pytest.mark.slow
def test_the_salmon_bench_runs_end_to_end_at_a_tiny_size(tiny_model_dir, tmp_path, capsys):
    data, users = write_files(tmp_path, *two_groups())
    out = tmp_path / "salmon.json"
    assert salmon_real.main(["--data", str(data), "--users", str(users), "--model", str(tiny_model_dir), "--rows", "24",
                             "--eval-rows", "4", "--steps", "2", "--batch", "4", "--seeds", "2", "--first-seed", "5",
                             "--json", str(out)]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    _check_figures(json.loads(out.read_text()), printed, seeds=2)
    assert "trained with principles, other group's" in printed
    assert "seed 5:" in captured.err and "seed 6:" in captured.err and "seed 0:" not in captured.err


@pytest.mark.slow
def test_the_janus_bench_runs_end_to_end_at_a_tiny_size(tiny_model_dir, tmp_path, capsys):
    data, users = write_files(tmp_path, *two_groups())
    out = tmp_path / "janus.json"
    assert janus_real.main(["--data", str(data), "--users", str(users), "--model", str(tiny_model_dir), "--rows", "16",
                            "--eval-rows", "4", "--sft-steps", "1", "--dpo-steps", "2", "--batch", "4", "--seeds", "1",
                            "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    _check_figures(json.loads(out.read_text()), printed, seeds=1)
    assert "trained without system messages" in printed


@needs_hh_hidden_context
def test_the_dev_slice_loads_with_every_annotator_in_a_group():
    pairs, groups, skipped = real_text.load(shared_data("hh_hidden_context/dev.jsonl.gz"),
                                            shared_data("hh_hidden_context/dev_users.csv"))
    assert len(pairs) + sum(skipped.values()) == 2464 and "a user the users file does not name" not in skipped
    assert {groups[p.user] for p in pairs} == {"helpful", "harmless"}
    assert max(len(p.prompt) for p in pairs) <= real_text.PROMPT_CHARS
