"""Opinion groups and group-aware consensus as Polis computes them, in numpy (no Django).

Follows polismath (`math/conversation.clj`, `pca.clj`, `clusters.clj`):

1. Participants "in the conversation" voted on at least min(7, statements) statements; while fewer
   than 15 are, the most active voters are added until there are 15.
2. Moderated-out statements are zeroed for everyone (Polis' `zero-out-columns`), so they carry no
   variance but still count as votes when projections are scaled.
3. Two principal components are fitted on the in-conversation participants, missing votes filled
   with the statement's mean vote, i.e. zero once centred.
4. Every participant is projected using only the votes they cast, and the projection is scaled by
   sqrt(statements / votes cast) so that sparse voters are not pulled to the centre.
5. k-means puts the in-conversation participants into at most 100 base clusters; a weighted k-means
   then groups the base clusters for each k in 2..min(5, 2 + clusters // 12), and the k with the
   best silhouette (over base-cluster centres, as Polis measures it) wins.

Polis warm-starts each k-means from the clusters of its previous update, so its result depends on
the order votes arrived in. Without that history we start from Polis' own initial clusters (the
first k distinct points) and from seeded k-means++ starts, and keep the lowest inertia: the same
votes always give the same groups.

Votes are a (participants, statements) float array: 1 agree, -1 disagree, 0 pass, NaN no vote.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_VOTES = 7
GREEDY_N = 15
BASE_K = 100
MAX_GROUPS = 5
STARTS = 10
MAX_ITERS = 100
SEED = 0


@dataclass(frozen=True)
class OpinionGroups:
    in_conv: np.ndarray  # (P,) bool: clustered participants
    projection: np.ndarray  # (P, 2) every participant's position
    base_labels: np.ndarray  # (P,) base cluster, -1 outside the conversation
    base_centers: np.ndarray  # (B, 2)
    labels: np.ndarray  # (P,) opinion group, -1 outside the conversation
    silhouettes: dict[int, float]  # k -> silhouette of the grouping with k groups

    @property
    def k(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size else 0


def opinion_groups(votes: np.ndarray, moderated_out: np.ndarray | None = None) -> OpinionGroups:
    votes = np.asarray(votes, dtype=float)
    n_ptpts, n_stmts = votes.shape
    in_conv = _in_conversation(votes)
    rating = votes.copy()
    if moderated_out is not None and moderated_out.any():
        rating[:, moderated_out] = 0.0
    voted = ~np.isnan(rating)

    center, comps = _pca2(rating[in_conv])
    centred = np.where(voted, rating - center, 0.0)  # (P, S)
    scale = np.sqrt(n_stmts / np.maximum(voted.sum(axis=1), 1))  # (P,)
    projection = (centred @ comps.T) * scale[:, None]  # (P, 2)

    base_labels = np.full(n_ptpts, -1)
    labels = np.full(n_ptpts, -1)
    points = projection[in_conv]
    if not len(points):
        return OpinionGroups(in_conv, projection, base_labels, np.zeros((0, 2)), labels, {})
    distinct = len(np.unique(points, axis=0))
    member_base, base_centers = kmeans(points, min(BASE_K, distinct))
    base_labels[in_conv] = member_base
    weights = np.bincount(member_base, minlength=len(base_centers)).astype(float)

    group_of_base, silhouettes = _group_base_clusters(base_centers, weights)
    labels[in_conv] = group_of_base[member_base]
    return OpinionGroups(in_conv, projection, base_labels, base_centers, labels, silhouettes)


def group_aware_consensus(votes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(S,) Polis' group-aware consensus: the product over groups of (agrees + 1) / (votes + 2).

    Only participants in a group count; passes count as votes. All statements, moderated or not.
    """
    agree, _, total = group_vote_counts(votes, labels)
    return np.prod((agree + 1.0) / (total + 2.0), axis=0)


def group_vote_counts(votes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Agrees, disagrees and votes cast per group and statement, each (G, S); G is at least 1."""
    votes = np.asarray(votes, dtype=float)
    k = max(int(labels.max()) + 1 if labels.size else 0, 1)
    member = np.stack([labels == g for g in range(k)]).astype(float)  # (G, P)
    agree = member @ (votes == 1).astype(float)
    disagree = member @ (votes == -1).astype(float)
    total = member @ (~np.isnan(votes)).astype(float)
    return agree, disagree, total


def kmeans(points: np.ndarray, k: int, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted k-means: (labels, centres). The lowest inertia of Polis' start and seeded k-means++ starts.

    As in Polis, a cluster left empty is dropped, so fewer than k centres may come back.
    """
    weights = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=float)
    rng = np.random.default_rng(SEED)
    starts = [_first_distinct(points, k)] + [_kmeans_pp(points, weights, k, rng) for _ in range(STARTS - 1)]
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for start in starts:
        labels, centers = _lloyd(points, weights, start)
        inertia = float(np.sum(weights * np.sum((points - centers[labels]) ** 2, axis=1)))
        if best is None or inertia < best[0] - 1e-12:
            best = (inertia, labels, centers)
    assert best is not None
    return best[1], best[2]


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette over points (unweighted, as Polis computes it over base clusters).

    A point alone in its cluster scores 0.
    """
    k = int(labels.max()) + 1
    onehot = np.eye(k)[labels]  # (N, k)
    sizes = onehot.sum(axis=0)  # (k,)
    sums = distances @ onehot  # (N, k) summed distance to each cluster's points
    n = len(labels)
    own = sizes[labels]
    a = sums[np.arange(n), labels] / np.maximum(own - 1, 1)
    to_others = np.where(onehot.astype(bool), np.inf, sums / np.maximum(sizes, 1))
    b = to_others.min(axis=1)
    top = np.maximum(a, b)
    scores = np.where((own > 1) & (top > 0), (b - a) / np.where(top > 0, top, 1), 0.0)
    return float(scores.mean())


def _in_conversation(votes: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(votes)).sum(axis=1)
    in_conv = counts >= min(MIN_VOTES, votes.shape[1])
    in_conv &= counts > 0
    missing = GREEDY_N - int(in_conv.sum())
    if missing > 0:
        # The most active of the others, earlier rows first among equals.
        others = [i for i in np.argsort(-counts, kind="stable") if not in_conv[i] and counts[i] > 0]
        in_conv[others[:missing]] = True
    return in_conv


def _pca2(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and the first two principal components (2, S) of rows with missing votes."""
    n_stmts = rows.shape[1]
    comps = np.zeros((2, n_stmts))
    if not len(rows):
        return np.zeros(n_stmts), comps
    voted = ~np.isnan(rows)
    counts = voted.sum(axis=0)
    center = np.where(counts > 0, np.nansum(rows, axis=0) / np.maximum(counts, 1), 0.0)  # (S,)
    centred = np.where(voted, rows - center, 0.0)  # missing -> the mean -> 0
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    found = min(2, len(vt))
    comps[:found] = vt[:found]
    # An eigenvector's sign is arbitrary: fix it so the same votes always draw the same picture.
    for comp in comps:
        if comp.any() and comp[np.argmax(np.abs(comp))] < 0:
            comp *= -1
    return center, comps


def _group_base_clusters(centers: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
    """The group of each base cluster, ordered by size (largest group 0), and the silhouette of each k."""
    n_base = len(centers)
    if n_base < 2:
        return np.zeros(n_base, dtype=int), {}
    distances = np.linalg.norm(centers[:, None, :] - centers[None, :, :], axis=2)
    max_k = min(MAX_GROUPS, 2 + n_base // 12, n_base)
    silhouettes: dict[int, float] = {}
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, max_k + 1):
        labels, _ = kmeans(centers, k, weights)
        silhouettes[k] = silhouette(distances, labels)
        if best is None or silhouettes[k] > best[0]:
            best = (silhouettes[k], labels)
    assert best is not None
    return _relabel_by_size(best[1], weights, centers), silhouettes


def _relabel_by_size(labels: np.ndarray, weights: np.ndarray, centers: np.ndarray) -> np.ndarray:
    groups = np.unique(labels)
    sizes = {g: weights[labels == g].sum() for g in groups}
    first = {g: tuple(centers[labels == g].mean(axis=0)) for g in groups}
    order = sorted(groups, key=lambda g: (-sizes[g], first[g]))
    mapping = {g: i for i, g in enumerate(order)}
    return np.array([mapping[g] for g in labels])


def _first_distinct(points: np.ndarray, k: int) -> np.ndarray:
    _, index = np.unique(points, axis=0, return_index=True)
    return points[np.sort(index)[:k]].copy()


def _kmeans_pp(points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    chosen = [int(rng.choice(len(points), p=weights / weights.sum()))]
    nearest = np.sum((points - points[chosen[0]]) ** 2, axis=1)
    for _ in range(k - 1):
        odds = nearest * weights
        if odds.sum() <= 0:
            break
        chosen.append(int(rng.choice(len(points), p=odds / odds.sum())))
        nearest = np.minimum(nearest, np.sum((points - points[chosen[-1]]) ** 2, axis=1))
    return points[chosen].copy()


def _lloyd(points: np.ndarray, weights: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = _nearest(points, centers)
    for _ in range(MAX_ITERS):
        labels, centers = _recentre(points, weights, labels)
        new_labels = _nearest(points, centers)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
    return _recentre(points, weights, labels)


def _recentre(points: np.ndarray, weights: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted means of the clusters that have members; empty clusters are dropped, as in Polis."""
    used, labels = np.unique(labels, return_inverse=True)
    mass = np.bincount(labels, weights=weights, minlength=len(used))  # (k,)
    sums = np.stack([np.bincount(labels, weights=weights * points[:, d], minlength=len(used))
                     for d in range(points.shape[1])], axis=1)  # (k, 2)
    return labels, sums / mass[:, None]


def _nearest(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    # One (N, k) array per dimension, summed in order: the same sums as reducing an (N, k, D)
    # array over D, without building it (bench/opinion_groups.py: 5.2 s -> 1.0 s at 5,000 x 300).
    d2 = (points[:, 0, None] - centers[None, :, 0]) ** 2  # (N, k)
    for d in range(1, points.shape[1]):
        d2 += (points[:, d, None] - centers[None, :, d]) ** 2
    return d2.argmin(axis=1)
