"""bench/population_real.py's core on a small synthetic population (no Django, no model): the
split by person, every method side by side, and the JSON it writes."""
from __future__ import annotations

import gzip
import json
import random
from dataclasses import replace

import pytest

from bench import population_real as bench
from tests.support.shared_data import needs_hh_hidden_context, shared_data
from training.methods import pal, vpl
from training.methods.common.population import PrefPair, by_user

DIM = 6


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from tests.support.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def synthetic(people: int = 12, pairs_each: int = 28, seed: int = 0) -> tuple[list[PrefPair], dict[str, str]]:
    """Two groups that disagree: group "a" prefers responses high on dimension 0, "b" low. Each
    response's text names its vector, which `embed` below reads back."""
    rng = random.Random(seed)
    pairs, groups = [], {}
    for i in range(people):
        user, group = f"u{i:02d}", "ab"[i % 2]
        groups[user] = group
        for j in range(pairs_each):
            one, two = ([round(rng.gauss(0, 1), 3) for _ in range(DIM)] for _ in range(2))
            first = (one[0] > two[0]) == (group == "a")
            chosen, rejected = (one, two) if first else (two, one)
            pairs.append(PrefPair(user, f"Human: question {i}-{j}", json.dumps(chosen), json.dumps(rejected)))
    return pairs, groups


def embed(texts: list[str]):
    """A response's vector is its own text; a prompt's is constant (the product half adds nothing)."""
    import torch

    return torch.tensor([json.loads(t) if t.startswith("[") else [1.0] * DIM for t in texts])


def small_settings() -> bench.Settings:
    return bench.Settings(pal=replace(pal.Config.tiny(), steps=150), vpl=replace(vpl.Config.tiny(), steps=150))


def test_new_people_are_never_trained_on_and_held_out_pairs_never_trained_on():
    pairs, _ = synthetic(people=15)
    pairs.append(PrefPair("few", "Human: hi", "[1,0,0,0,0,0]", "[0,0,0,0,0,0]"))  # too few pairs to be placed
    split = bench.split_people(pairs, seed=3, settings=bench.Settings())
    trained_people = {p.user for p in split.train}
    assert split.new_people and not trained_people & set(split.new_people)
    assert not {p.user for p in split.held_out} & set(split.new_people)
    assert not set(split.train) & set(split.held_out)
    assert len(split.train) + len(split.held_out) + sum(map(len, split.new_people.values())) == len(pairs)
    assert "few" in trained_people and all(len(own) >= 20 for own in split.new_people.values())
    assert {p.user for p in split.held_out} <= trained_people
    assert round(len(split.held_out) / (len(split.train) + len(split.held_out)), 1) == 0.2 or \
        0.2 <= len(split.held_out) / (len(split.train) + len(split.held_out)) <= 0.3
    # Another seed draws other people and other held-out pairs.
    assert bench.split_people(pairs, seed=4, settings=bench.Settings()).new_people.keys() != split.new_people.keys()


def test_every_method_side_by_side_and_the_json_it_writes(tmp_path, monkeypatch, capsys):
    pairs, groups = synthetic()
    data, users = tmp_path / "pairs.jsonl.gz", tmp_path / "users.csv"
    rows = [{"user": p.user, "prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs]
    rows += [{**rows[0], "rejected": rows[0]["chosen"]}, {**rows[1], "prompt": " "}]  # a tie, an empty field
    with gzip.open(data, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    users.write_text("user,objective\n" + "".join(f"{u},{g}\n" for u, g in groups.items()))
    settings = small_settings()
    monkeypatch.setattr(bench, "Settings", lambda: settings)
    monkeypatch.setattr("bench.text_features.features", lambda texts, name, **_: ("synthetic", embed(texts)))

    assert bench.main(["--data", str(data), "--users", str(users), "--seeds", "2", "--json", str(tmp_path / "out.json"),
                       "--recoverability"]) == 0
    figures = json.loads((tmp_path / "out.json").read_text())
    assert {"bt", "pal", "vpl", "oracle", "new_person"} <= set(figures)
    assert set(figures["new_person"]) == {"bt", "pal", "vpl", "oracle"}
    assert set(figures["new_person"]["pal"]) == {str(k) for k in bench.KS}
    # The groups disagree on every pair: one reward for all is near chance, one per group near 1.
    assert figures["oracle"] >= 0.9 and figures["bt"] <= 0.7
    assert figures["vpl"] >= figures["bt"] + 0.15 and figures["pal"] >= figures["bt"] + 0.15
    assert figures["new_person"]["vpl"]["16"] >= figures["bt"] + 0.15
    printed = capsys.readouterr().out
    assert "1 a tie (chosen == rejected)" in printed and "1 a missing or empty field" in printed
    assert "oracle >= BT + 0.05" in printed and set(figures["detail"]["held_out_by_group"]["pal"]) == {"a", "b"}
    # --recoverability: every person's group is plain from their pairs, so the recovered oracle is the oracle.
    assert figures["recoverability"]["new_person"]["8"]["recovered"]["mean"] >= 0.9
    assert figures["recoverability"]["seen"]["all"]["recovered_oracle"]["mean"] >= figures["oracle"] - 0.05
    assert "recoverability: each person assigned" in printed


def test_without_a_users_file_there_is_no_oracle_and_no_goal_lines():
    pairs, _ = synthetic(people=10, pairs_each=24)
    feats = bench.pair_features(pairs, embed, "synthetic")
    runs = [bench.run_seed(pairs, feats, None, seed=0, settings=small_settings())]
    summary = bench.summarise(runs, None)
    assert "oracle" not in summary and {"bt", "pal", "vpl"} <= set(summary) and bench.goals(summary) == []


def test_features_are_cached_by_model_and_text(tmp_path):
    import torch

    from bench.text_features import FeatureStore

    calls = []

    def compute(texts):
        calls.append(list(texts))
        return torch.tensor([[float(len(t))] for t in texts])

    store = FeatureStore(tmp_path / "m.pt")
    assert store.vectors(["a", "bb", "a"], compute, batch_size=1).flatten().tolist() == [1.0, 2.0, 1.0]
    again = FeatureStore(tmp_path / "m.pt")  # from disk
    assert again.vectors(["bb", "ccc"], compute, batch_size=8).flatten().tolist() == [2.0, 3.0]
    assert calls == [["a"], ["bb"], ["ccc"]]


@needs_hh_hidden_context
def test_the_dev_slice_reads_with_its_ties_counted():
    loaded = bench.read_pairs(shared_data("hh_hidden_context/dev.jsonl.gz"))
    groups = bench.read_groups(shared_data("hh_hidden_context/dev_users.csv"))
    assert len(loaded.pairs) + sum(loaded.skipped.values()) == 2464
    assert loaded.skipped == {"a tie (chosen == rejected)": 2, "a missing or empty field": 4}  # empty responses
    assert set(by_user(loaded.pairs)) == set(groups) and set(groups.values()) == {"helpful", "harmless"}


def test_a_hugging_face_folder_reads_long_texts_from_their_end_and_is_cached(tiny_model_dir, tmp_path):
    from bench.text_features import features

    prompt = "Prompt: " + "an old turn of the conversation. " * 100
    texts = [prompt + "Response: yes", prompt + "Response: no, never"]
    key, first = features(texts, str(tiny_model_dir), cache=tmp_path, max_length=16)
    assert not (first[0] == first[1]).all()  # the ends differ, so the features do
    assert (tmp_path / f"{key}.pt").exists()
    _, again = features(texts[::-1], str(tiny_model_dir), cache=tmp_path, max_length=16)
    assert (again == first.flip(0)).all()
