"""Moral-graph aggregation: wisdom-upgrade votes in, MAI's `MoralGraphSummary` out.

A port of the Meaning Alignment Institute's `summarizeGraph` (dft repo,
`app/values-tools/generate-moral-graph.ts`; the same code later moved to values-tools'
`src/services/moral-graph.ts`), so Chorus graphs are comparable with MAI's published ones
(DESIGN.md, Elicitation, item 6). Plain numpy, no Django: selectors load the votes, this module
only counts.

DESIGN.md restates the original's rules and none of them differs. How the original works, and
what this port settles where DESIGN.md is silent:
- It walks every vote forward, then every vote reversed, creating one pair entry per ordered
  (from, to) on first sight. Edges are keyed by (from, to) only; `contexts` is the list of
  distinct context ids of the votes seen on that pair in either pass, in first-seen order.
  Kept edges come out in that first-seen order too, so pass votes in the order they were cast.
- `total == 0` (a pair seen only as the reverse of "no_upgrade"/"not_sure" votes) gives
  wiserLikelihood 0, as values-tools does; dft's first version divided by zero (NaN). Such a pair
  has no markedWiser, so it is never kept either way.
- The filter is dft's `wiser < 2`, `likelihood < 0.33`, `entropy > 1.69` rejections, i.e. the
  inclusive bounds DESIGN.md states; its extra `!markedWiser` test is implied by `wiser >= 2`.
- PageRank (`calculatePageRank`): nodes are the values on kept edges, ranks start at 1/N, each
  of 100 steps starts every node at (1 - d)/N and adds d * rank[src] * w / (sum of w over src's
  kept out-edges). A dangling node's rank is not redistributed, so ranks sum to less than 1.
  MAI computes ranks only when asked (`includePageRank`); Chorus always does.
- `as_of` is MAI's `edgeWhere` filter made explicit: only votes cast strictly before a moment.
- The demographic split is Chorus's own. MAI attaches each forward voter's raw demographics to
  the edge and counts affiliations; here a group's figures on a kept edge are what the same
  counting gives on that group's votes alone, both directions included.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np

RELATIONSHIPS = ("upgrade", "no_upgrade", "not_sure")
UPGRADE, NO_UPGRADE, NOT_SURE = range(3)

MIN_WISER = 2
MIN_WISER_LIKELIHOOD = 0.33
MAX_ENTROPY = 1.69
DAMPING = 0.85
ITERATIONS = 100

# (user_id, from_id, to_id, context_id, relationship, created_at)
VoteRow = tuple[int, int, int, Hashable, str, datetime]


@dataclass(frozen=True)
class Tally:
    """One ordered pair's counts, in MAI's field order, and their summary."""

    marked_wiser: int
    marked_not_wiser: int
    marked_less_wise: int
    marked_unsure: int
    impressions: int
    wiser_likelihood: float
    entropy: float


@dataclass(frozen=True)
class GraphEdge:
    source_value_id: int
    wiser_value_id: int
    contexts: tuple[Hashable, ...]
    tally: Tally


@dataclass(frozen=True)
class GraphValue:
    id: int
    page_rank: float
    card: Mapping[str, Any]  # the caller's value fields, passed through to the JSON


@dataclass(frozen=True)
class MoralGraph:
    values: tuple[GraphValue, ...]
    edges: tuple[GraphEdge, ...]

    def to_mai_json(self) -> dict[str, Any]:
        """MAI's `MoralGraphSummary` with `pageRank` on each value, as `includePageRank` gives."""
        return {
            "values": [{**v.card, "id": v.id, "pageRank": v.page_rank} for v in self.values],
            "edges": [
                {
                    "sourceValueId": e.source_value_id,
                    "wiserValueId": e.wiser_value_id,
                    "contexts": list(e.contexts),
                    "counts": {
                        "markedWiser": e.tally.marked_wiser,
                        "markedNotWiser": e.tally.marked_not_wiser,
                        "markedLessWise": e.tally.marked_less_wise,
                        "markedUnsure": e.tally.marked_unsure,
                        "impressions": e.tally.impressions,
                    },
                    "summary": {"wiserLikelihood": e.tally.wiser_likelihood, "entropy": e.tally.entropy},
                }
                for e in self.edges
            ],
        }


@dataclass(frozen=True, eq=False)
class Votes:
    """Votes as columns, all shaped (n,). Relationship is an index into RELATIONSHIPS."""

    user_id: np.ndarray  # int64
    from_id: np.ndarray  # int64
    to_id: np.ndarray  # int64
    context_id: np.ndarray  # int64, or object for string ids as in MAI's exports
    relationship: np.ndarray  # int8
    created_at: np.ndarray  # datetime64[us], UTC

    def __post_init__(self) -> None:
        columns = (self.user_id, self.from_id, self.to_id, self.context_id, self.relationship, self.created_at)
        if len({len(c) for c in columns}) != 1:
            raise ValueError("vote columns differ in length")
        if len(self) and not (0 <= self.relationship.min() and self.relationship.max() < len(RELATIONSHIPS)):
            raise ValueError(f"relationship codes must index {RELATIONSHIPS}")

    def __len__(self) -> int:
        return len(self.relationship)

    @classmethod
    def from_rows(cls, rows: Iterable[VoteRow]) -> Votes:
        rows = list(rows)
        codes = {name: i for i, name in enumerate(RELATIONSHIPS)}
        unknown = {r[4] for r in rows} - codes.keys()
        if unknown:
            raise ValueError(f"unknown relationship {sorted(unknown)!r}; expected one of {RELATIONSHIPS}")
        contexts = [r[3] for r in rows]
        return cls(
            user_id=np.array([r[0] for r in rows], dtype=np.int64),
            from_id=np.array([r[1] for r in rows], dtype=np.int64),
            to_id=np.array([r[2] for r in rows], dtype=np.int64),
            context_id=np.array(contexts, dtype=np.int64 if all(type(c) is int for c in contexts) else object),
            relationship=np.array([codes[r[4]] for r in rows], dtype=np.int8),
            created_at=np.array([_utc(r[5]) for r in rows], dtype="datetime64[us]"),
        )


def votes_as_of(votes: Votes, moment: datetime) -> Votes:
    """The votes cast strictly before `moment` (an aware datetime)."""
    keep = votes.created_at < _utc(moment)
    return Votes(**{f.name: getattr(votes, f.name)[keep] for f in fields(Votes)})


def keeps_edge(wiser: Any, wiser_likelihood: Any, entropy: Any) -> Any:
    """MAI's filter; works on scalars and on arrays alike."""
    return (wiser >= MIN_WISER) & (wiser_likelihood >= MIN_WISER_LIKELIHOOD) & (entropy <= MAX_ENTROPY)


def aggregate(votes: Votes, values: Iterable[Mapping[str, Any]]) -> MoralGraph:
    """`summarizeGraph` with PageRank, vectorised. `values` are mappings with an `id`."""
    n = len(votes)
    if not n:
        return MoralGraph(values=(), edges=())
    node_ids, node = np.unique(np.concatenate([votes.from_id, votes.to_id]), return_inverse=True)
    src, dst = node[:n], node[n:]
    # MAI's walk: every vote on (from, to), then every vote again on (to, from).
    pair_keys, first_seen, pair = _first_seen_groups(np.concatenate([src * len(node_ids) + dst,
                                                                        dst * len(node_ids) + src]))
    counts = _count(pair[:n], pair[n:], votes.relationship, len(pair_keys))  # (5, pairs)
    candidates = np.flatnonzero(counts[0] >= MIN_WISER)
    likelihood, entropy = _summarise(counts[:, candidates])
    keep = keeps_edge(counts[0, candidates], likelihood, entropy)
    order = np.argsort(first_seen[candidates[keep]], kind="stable")
    kept = candidates[keep][order]  # pair indices, in MAI's edge order
    likelihood, entropy = likelihood[keep][order], entropy[keep][order]
    if not len(kept):
        return MoralGraph(values=(), edges=())

    sources = node_ids[pair_keys[kept] // len(node_ids)]
    targets = node_ids[pair_keys[kept] % len(node_ids)]
    contexts = _kept_contexts(votes.context_id, pair, kept, n)
    edges = tuple(
        GraphEdge(s, t, ctx, Tally(*c, wiser_likelihood=lh, entropy=h))
        for s, t, ctx, c, lh, h in zip(sources.tolist(), targets.tolist(), contexts, counts[:, kept].T.tolist(),
                                       likelihood.tolist(), entropy.tolist())
    )
    ranks = weighted_page_rank(sources, targets, likelihood)
    return MoralGraph(values=_ranked_values(values, ranks), edges=edges)


def weighted_page_rank(sources: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> dict[int, float]:
    """MAI's `calculatePageRank` over the edges (sources[i] -> targets[i], weights[i])."""
    node_ids, node = np.unique(np.concatenate([sources, targets]), return_inverse=True)
    src, dst = node[: len(sources)], node[len(sources):]
    n = len(node_ids)
    out_weight = np.bincount(src, weights=weights, minlength=n)  # summed in edge order, as MAI's reduce
    weighted = out_weight[src] > 0  # MAI skips sources whose weights sum to 0; kept edges never do
    rank = np.full(n, 1 / n)
    for _ in range(ITERATIONS):
        new_rank = np.full(n, (1 - DAMPING) / n)
        flow = np.divide(DAMPING * rank[src] * weights, out_weight[src], out=np.zeros(len(src)), where=weighted)
        # add.at adds edge by edge in order, so the float sums match MAI's loop step for step.
        np.add.at(new_rank, dst, flow)
        rank = new_rank
    return dict(zip(node_ids.tolist(), rank.tolist()))


def split_by_group(votes: Votes, graph: MoralGraph, group_of: Mapping[int, Hashable]) -> dict[
        tuple[int, int], dict[Hashable, Tally]]:
    """Per kept edge, each group's tally: MAI's counting on that group's votes alone.

    Users missing from `group_of` count for no group. Groups with no vote on an edge are absent.
    """
    groups = list(dict.fromkeys(group_of.values()))
    if not graph.edges or not groups or not len(votes):
        return {}
    users, user = np.unique(votes.user_id, return_inverse=True)
    code = {g: i for i, g in enumerate(groups)}
    group = np.array([code.get(group_of.get(u), -1) for u in users.tolist()], dtype=np.int64)[user]
    ends = np.array([(e.source_value_id, e.wiser_value_id) for e in graph.edges], dtype=np.int64)  # (E, 2)
    ids = np.unique(np.concatenate([votes.from_id, votes.to_id, ends.ravel()]))
    a, b, table = np.searchsorted(ids, votes.from_id), np.searchsorted(ids, votes.to_id), np.searchsorted(ids, ends)
    table = table[:, 0] * len(ids) + table[:, 1]

    def cell(edge: np.ndarray) -> np.ndarray:  # bin of each (edge, group); bin 0 takes the rest
        return np.where((edge >= 0) & (group >= 0), edge * len(groups) + group + 1, 0)

    fwd, rev = cell(_index_of(table, a * len(ids) + b)), cell(_index_of(table, b * len(ids) + a))
    counts = _count(fwd, rev, votes.relationship, len(table) * len(groups) + 1)[:, 1:]
    seen = np.flatnonzero(counts[4])
    likelihood, entropy = _summarise(counts[:, seen])
    split: dict[tuple[int, int], dict[Hashable, Tally]] = {}
    for i, c, lh, h in zip(seen.tolist(), counts[:, seen].T.tolist(), likelihood.tolist(), entropy.tolist()):
        e = graph.edges[i // len(groups)]
        split.setdefault((e.source_value_id, e.wiser_value_id), {})[groups[i % len(groups)]] = Tally(
            *c, wiser_likelihood=lh, entropy=h)
    return split


def _index_of(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Each key's position in `table` (distinct keys), or -1."""
    order = np.argsort(table)
    at = order[np.searchsorted(table, keys, sorter=order).clip(max=len(table) - 1)]
    return np.where(table[at] == keys, at, -1)


def _count(fwd: np.ndarray, rev: np.ndarray, relationship: np.ndarray, size: int) -> np.ndarray:
    """Counts per bin, (5, size), rows in MAI's field order; fwd/rev are each vote's bins."""
    upgrade = relationship == UPGRADE
    return np.stack([
        np.bincount(fwd[upgrade], minlength=size),
        np.bincount(fwd[relationship == NO_UPGRADE], minlength=size),
        np.bincount(rev[upgrade], minlength=size),
        np.bincount(fwd[relationship == NOT_SURE], minlength=size),
        np.bincount(fwd, minlength=size) + np.bincount(rev, minlength=size),
    ])


def _summarise(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """wiserLikelihood and entropy (bits, impressions included) of (5, m) counts."""
    wiser, not_wiser, less_wise, unsure, _ = counts.astype(np.float64)
    total = wiser + not_wiser + unsure + less_wise
    likelihood = np.divide(wiser - less_wise, total, out=np.zeros_like(total), where=total > 0)
    everything = counts.sum(axis=0).astype(np.float64)
    entropy = np.zeros_like(total)
    for field in counts:  # subtract field by field, in MAI's order
        p = np.divide(field, everything, out=np.zeros_like(total), where=everything > 0)
        entropy -= p * np.log2(p, out=np.zeros_like(p), where=p > 0)
    return likelihood, entropy


def _first_seen_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct keys (sorted), each one's first position in `keys`, and each position's group.

    `keys` must not be empty."""
    order = np.argsort(keys)  # not stable: the first position comes from the minimum below
    ordered = keys[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.empty(len(keys), dtype=np.int64)
    group[order] = np.cumsum(starts) - 1
    first = np.minimum.reduceat(order, np.flatnonzero(starts))
    return ordered[starts], first, group


def _kept_contexts(context_id: np.ndarray, pair: np.ndarray, kept: np.ndarray, n: int) -> list[tuple]:
    """Each kept edge's distinct contexts, in the order MAI's two passes first meet them."""
    if context_id.dtype == object:  # np.unique sorts Python strings slowly; a dict is 50x faster
        ids = context_id.tolist()
        index = {c: i for i, c in enumerate(dict.fromkeys(ids))}
        context = np.fromiter(map(index.__getitem__, ids), np.int64, n)
        labels = np.fromiter(index, dtype=object, count=len(index))
    else:
        labels, context = np.unique(context_id, return_inverse=True)
    edge_of_pair = np.full(pair.max() + 1, -1)
    edge_of_pair[kept] = np.arange(len(kept))
    position = np.flatnonzero(edge_of_pair[pair] >= 0)  # places in the two-pass walk
    edge = edge_of_pair[pair[position]]
    keys, first, _ = _first_seen_groups(edge * len(labels) + context[position % n])
    order = np.lexsort((first, keys // len(labels)))  # by edge, then by first sight
    names = labels[keys[order] % len(labels)].tolist()
    bounds = np.searchsorted(keys[order] // len(labels), np.arange(len(kept) + 1)).tolist()
    return [tuple(names[a:b]) for a, b in itertools.pairwise(bounds)]


def _ranked_values(values: Iterable[Mapping[str, Any]], ranks: Mapping[int, float]) -> tuple[GraphValue, ...]:
    # As MAI: the given values that a kept edge touches, in the given order.
    return tuple(GraphValue(v["id"], ranks[v["id"]], v) for v in values if v["id"] in ranks)


def _utc(moment: datetime) -> np.datetime64:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}; votes are compared in UTC")
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "us")


# Reference implementation: the TypeScript transcribed into plain dicts, to cross-check the above.

def tally_reference(rows: Iterable[VoteRow]) -> dict[tuple[int, int], GraphEdge]:
    """Every pair MAI's two passes create, unfiltered, in creation order."""
    rows = list(rows)
    pairs: dict[tuple[int, int], dict[str, Any]] = {}

    def get(a: int, b: int) -> dict[str, Any]:
        return pairs.setdefault((a, b), {"contexts": [], "counts": [0, 0, 0, 0, 0]})

    for _, a, b, context, relationship, _ in rows:
        p = get(a, b)
        p["contexts"].append(context)
        p["counts"][4] += 1
        p["counts"][{"upgrade": 0, "no_upgrade": 1, "not_sure": 3}[relationship]] += 1
    for _, a, b, context, relationship, _ in rows:
        p = get(b, a)
        p["contexts"].append(context)
        p["counts"][4] += 1
        if relationship == "upgrade":
            p["counts"][2] += 1

    edges = {}
    for (a, b), p in pairs.items():
        wiser, not_wiser, less_wise, unsure, _ = c = p["counts"]
        total = wiser + not_wiser + unsure + less_wise
        entropy = 0.0
        for count in c:
            if count:
                entropy -= count / sum(c) * math.log2(count / sum(c))
        likelihood = (wiser - less_wise) / total if total else 0.0
        edges[a, b] = GraphEdge(a, b, tuple(dict.fromkeys(p["contexts"])), Tally(*c, likelihood, entropy))
    return edges


def aggregate_reference(rows: Iterable[VoteRow], values: Iterable[Mapping[str, Any]]) -> MoralGraph:
    kept = [
        e for e in tally_reference(rows).values()
        if not (e.tally.marked_wiser < 2 or e.tally.wiser_likelihood < 0.33 or e.tally.entropy > 1.69)
    ]
    nodes = list(dict.fromkeys(v for e in kept for v in (e.source_value_id, e.wiser_value_id)))
    out_weight: dict[int, float] = {}
    for e in kept:
        out_weight[e.source_value_id] = out_weight.get(e.source_value_id, 0.0) + e.tally.wiser_likelihood
    rank = {v: 1 / len(nodes) for v in nodes}
    for _ in range(100):
        new_rank = {v: (1 - 0.85) / len(nodes) for v in nodes}
        for e in kept:
            new_rank[e.wiser_value_id] += (
                0.85 * rank[e.source_value_id] * e.tally.wiser_likelihood / out_weight[e.source_value_id])
        rank = new_rank
    return MoralGraph(values=_ranked_values(values, rank), edges=tuple(kept))


# Withdrawal ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphRedaction:
    """What a participant's withdrawal changes in a frozen graph (a snapshot, a moral-graph target).

    `values_reworded` maps a value's id to its new wording ({"title", "description", "policies"}):
    the value stays a node, in the words of another person whose card is part of it."""

    values_deleted: frozenset[int] = frozenset()
    values_reworded: Mapping[int, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    contexts_deleted: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.values_deleted or self.values_reworded or self.contexts_deleted)


@dataclass(frozen=True)
class GraphRedacted:
    summary: dict[str, Any]
    rows_removed: int  # values, edges and contexts dropped
    rows_reworded: int  # values given another person's wording


def graph_redact(summary: Mapping[str, Any], redaction: GraphRedaction) -> GraphRedacted:
    """A graph in `graph_summary`'s shape ("values", "edges", "contexts" by id) without what a
    withdrawal took away: deleted values and every edge touching them, deleted contexts (and their
    ids in edges; an edge left with no context goes), and re-worded values in their new words.
    Other fields (counts, PageRank) are kept as they were frozen."""
    deleted = {int(v) for v in redaction.values_deleted}
    reworded = {int(k): v for k, v in redaction.values_reworded.items()}
    gone_contexts = {str(c) for c in redaction.contexts_deleted}
    removed = changed = 0
    values = []
    for value in summary.get("values", []):
        if value.get("id") in deleted:
            removed += 1
            continue
        if value.get("id") in reworded:
            new = reworded[value["id"]]
            value = {**value, "title": new["title"], "description": new["description"],
                     "policies": list(new["policies"])}
            changed += 1
        values.append(value)
    edges = []
    for edge in summary.get("edges", []):
        contexts = [c for c in edge.get("contexts", []) if str(c) not in gone_contexts]
        if edge.get("sourceValueId") in deleted or edge.get("wiserValueId") in deleted or (
                edge.get("contexts") and not contexts):
            removed += 1
            continue
        edges.append({**edge, "contexts": contexts} if len(contexts) != len(edge.get("contexts", [])) else edge)
    contexts = {}
    for key, text in summary.get("contexts", {}).items():
        if str(key) in gone_contexts:
            removed += 1
        else:
            contexts[key] = text
    out = {**summary, "values": values, "edges": edges}
    if "contexts" in summary:
        out["contexts"] = contexts
    return GraphRedacted(summary=out, rows_removed=removed, rows_reworded=changed)
