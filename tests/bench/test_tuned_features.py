"""bench/tuned_features.py: MiniLM fine-tuned on one split's training pairs, cached per split and
seed, and read by bench/population_real.py from the training split alone."""
from __future__ import annotations

import pytest

from bench import population_real as bench
from bench import tuned_features as tuned
from tests.bench.test_population_real import embed, small_settings, synthetic
from training.methods.common.population import PrefPair


def test_the_cache_key_differs_per_split_seed_and_objective():
    pairs, _ = synthetic(people=12)
    one = bench.split_people(pairs, seed=0, settings=bench.Settings()).train
    two = bench.split_people(pairs, seed=1, settings=bench.Settings()).train
    assert tuned.cache_key("minilm-tuned", one, 0) == tuned.cache_key("minilm-tuned", list(one), 0)
    keys = {tuned.cache_key("minilm-tuned", one, 0), tuned.cache_key("minilm-tuned", two, 0),
            tuned.cache_key("minilm-tuned", one, 1), tuned.cache_key("minilm-tuned-bt", one, 0),
            tuned.cache_key("minilm-tuned", one[:-1], 0)}
    assert len(keys) == 5
    flipped = [PrefPair(one[0].user, one[0].prompt, one[0].rejected, one[0].chosen), *one[1:]]  # a label changed
    assert tuned.cache_key("minilm-tuned", flipped, 0) != tuned.cache_key("minilm-tuned", one, 0)


def test_the_inner_validation_slice_is_each_persons_last_training_pairs():
    pairs, _ = synthetic(people=4, pairs_each=10)
    pairs.append(PrefPair("two", "Human: hi", "[1,0,0,0,0,0]", "[0,0,0,0,0,0]"))
    pairs.append(PrefPair("two", "Human: ho", "[0,1,0,0,0,0]", "[0,0,0,0,0,0]"))
    fit, val = tuned.inner_split(pairs)
    assert not set(fit) & set(val) and len(fit) + len(val) == len(pairs)
    assert len(val) == 4 * 2 and all(p in fit for p in pairs if p.user == "two")
    assert all(p in val for p in pairs[8:10])  # u00's last two


def test_tuned_features_are_made_from_each_seeds_training_split_alone(monkeypatch):
    pairs, groups = synthetic(people=15)
    seen: list[tuple[int, list[PrefPair]]] = []

    def fake(texts, name, train, *, seed, **_):
        seen.append((seed, list(train)))
        return "fake", embed(texts)

    monkeypatch.setattr(tuned, "tuned_vectors", fake)
    source = bench.feature_source(pairs, "minilm-tuned", embed)
    assert callable(source)
    for seed in (0, 1):
        bench.run_seed(pairs, source, groups, seed=seed, settings=small_settings())
    assert [s for s, _ in seen] == [0, 1]
    for seed, train in seen:
        split = bench.split_people(pairs, seed=seed, settings=small_settings())
        assert train == split.train
        assert not set(train) & set(split.held_out)
        assert not {p.user for p in train} & set(split.new_people)
    assert seen[0][1] != seen[1][1]


@pytest.mark.filterwarnings("ignore")
def test_one_epoch_on_the_bundled_minilm_is_cached_per_split_and_seed(tmp_path, monkeypatch):
    import torch

    from bench.text_features import features

    pairs = [PrefPair(f"u{i % 3}", f"Human: question {i}?", f"Sure, here is how to do thing {i} safely.",
                      f"No. Figure out thing {i} yourself.") for i in range(12)]
    texts = sorted({r for p in pairs for r in (p.chosen, p.rejected)} | {"A response nobody trained on."})
    encoder = tuned.SplitEncoder(cache=tmp_path)
    encoder.fill(texts)
    assert encoder.path.exists() and len(encoder.states) == len(texts)
    # The top layer untouched, the split encoder gives the frozen MiniLM features.
    _, frozen = features(texts, "minilm", cache=tmp_path)
    assert torch.allclose(encoder.vectors(texts), frozen, atol=2e-3)

    built: list[tuned.SplitEncoder] = []

    def factory() -> tuned.SplitEncoder:
        built.append(tuned.SplitEncoder(cache=tmp_path))
        return built[-1]

    logged: list[str] = []
    monkeypatch.setattr(tuned, "EPOCHS", 1)
    key, vectors = tuned.tuned_vectors(texts, "minilm-tuned", pairs, seed=0, cache=tmp_path,
                                       encoder_factory=factory, log=logged.append)
    assert len(built) == 1 and (tmp_path / f"{key}.pt").exists()
    assert vectors.shape == frozen.shape and torch.allclose(vectors.norm(dim=-1), torch.ones(len(texts)), atol=1e-4)
    assert any("epoch 1" in line and " s," in line for line in logged)
    # The same split and seed read the cache; another seed tunes again under its own key.
    again_key, again = tuned.tuned_vectors(texts, "minilm-tuned", pairs, seed=0, cache=tmp_path,
                                           encoder_factory=factory, log=logged.append)
    assert (again_key, len(built)) == (key, 1) and torch.equal(again, vectors)
    other_key, _ = tuned.tuned_vectors(texts, "minilm-tuned", pairs, seed=1, cache=tmp_path,
                                       encoder_factory=factory, log=logged.append)
    assert other_key != key and len(built) == 2
