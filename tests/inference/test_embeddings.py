"""The bundled all-MiniLM-L6-v2, loaded offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chorus.inference import Embedder, get_embedder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedder(model_cache: Path) -> Embedder:
    return get_embedder(model_cache)


def test_vectors_are_normalised_float32_rows(embedder: Embedder) -> None:
    vectors = embedder.embed(["one", "two", "three"])

    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_sentences_are_closer_than_dissimilar_ones(embedder: Embedder) -> None:
    kitchen, dishes, tax = embedder.embed(
        [
            "Everyone should wash their own dishes in the shared kitchen.",
            "Please clean up your plates and cups after cooking.",
            "The quarterly tax filing deadline is in April.",
        ]
    )

    assert kitchen @ dishes > kitchen @ tax + 0.2


def test_no_texts_give_an_empty_matrix(embedder: Embedder) -> None:
    assert embedder.embed([]).shape == (0, 384)


def test_the_model_is_loaded_once_per_process(embedder: Embedder, model_cache: Path) -> None:
    assert get_embedder(model_cache) is embedder
