"""Sample disruption scenarios from the `Risks` sheet (SPEC §7).

One sample: for each risk r (sheet order) and each start year t of r (in order), when no
event of r is under way in t, one starts with probability p_r; it lasts d years, d
uniform on the integers min_years..max_years, covers t..min(t + d - 1, tN), and the next
event of r may start from t + d.

Vectorised over the N samples and deterministic: one `numpy.random.Generator`
(PCG64, `default_rng(seed)`) is consumed in a fixed order, for each risk in sheet order
and each of its start years in order: N uniforms U (an event starts in sample n when
U[n] < p and none is under way), then N durations d (drawn for every sample, used where
an event starts). The same workbook, N and seed give the same samples on any machine,
whatever runs them afterwards.

Samples with the same events (the same set of (risk, first year, last year)) are one
scenario, with probability count / N: `normal` first (no event), then `s1`, `s2`, ... by
decreasing count, ties in the order first drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diversify.data import Problem, Risk
from diversify.errors import InputError, Issue
from diversify.schema import columns

MAX_SAMPLES = 1_000_000
NORMAL = "normal"


@dataclass
class Samples:
    """N samples: their events, and the distinct samples they merge into.

    Events (one row each, ordered by sample, then risk in sheet order, then year):
    `event_sample` (0-based sample), `event_risk` (index into `risks`), `event_first`,
    `event_last` (years). `distinct` (D,) holds, for each merged scenario in output order
    (`normal` first), the 0-based sample that represents it (its first drawn);
    `scenario_of` (N,) the merged scenario of every sample; `counts` (D,) how many
    samples each has.
    """

    risks: list[Risk]
    n: int
    seed: int
    event_sample: np.ndarray
    event_risk: np.ndarray
    event_first: np.ndarray
    event_last: np.ndarray
    distinct: np.ndarray
    scenario_of: np.ndarray
    counts: np.ndarray
    has_normal: bool  # a sample with no event was drawn (distinct[0] is one)

    @property
    def names(self) -> list[str]:
        """Scenario names in output order: `normal`, then s1, s2, ..."""
        return [NORMAL] + [f"s{i}" for i in range(1, len(self.distinct) + 1 - self.has_normal)]

    @property
    def probabilities(self) -> list[float]:
        """count / N per scenario (`normal`: 0 when no sample was event-free)."""
        shares = (self.counts / self.n).tolist()
        return shares if self.has_normal else [0.0, *shares]

    def events_of(self, sample: int) -> list[tuple[int, int, int]]:
        """(risk index, first, last) of one 0-based sample, in risk then year order."""
        lo, hi = np.searchsorted(self.event_sample, [sample, sample + 1])
        return list(
            zip(
                self.event_risk[lo:hi].tolist(),
                self.event_first[lo:hi].tolist(),
                self.event_last[lo:hi].tolist(),
                strict=True,
            )
        )

    def describe(self, sample: int) -> str:
        """`risk first-last` (`risk year` for one year), joined by `; `; '' for none."""
        return "; ".join(
            _event_text(self.risks[k].name, a, b) for k, a, b in self.events_of(sample)
        )

    def describe_many(self, samples: np.ndarray) -> list[str]:
        """`describe` of each of these 0-based samples: each distinct event's text is
        made once (100,000 samples: 0.8 -> 0.2 s), then each sample's joined."""
        k, first, last = self.event_risk, self.event_first, self.event_last
        key = (k << 32) | (first << 16) | (last - first)  # an event as one int (years < 2**16)
        _, at, which = np.unique(key, return_index=True, return_inverse=True)
        texts = [
            _event_text(self.risks[r].name, a, b)
            for r, a, b in zip(k[at].tolist(), first[at].tolist(), last[at].tolist(), strict=True)
        ]
        pieces = list(map(texts.__getitem__, which.ravel().tolist()))
        lo = np.searchsorted(self.event_sample, samples).tolist()
        hi = np.searchsorted(self.event_sample, np.asarray(samples) + 1).tolist()
        return ["; ".join(pieces[a:b]) for a, b in zip(lo, hi, strict=True)]


def _event_text(risk: str, first: int, last: int) -> str:
    """`risk first-last`, or `risk year` for an event of one year."""
    return f"{risk} {first}" if first == last else f"{risk} {first}-{last}"


def check_request(problem: Problem, n: int, seed: int) -> None:
    """N in 1..1,000,000, a non-negative seed, a `Risks` row: else InputError (SPEC §7)."""
    issues = []
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SAMPLES:
        issues.append(Issue(None, None, "--samples", f"must be 1 to 1,000,000, found {n!r}"))
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        issues.append(
            Issue(None, None, "--seed", f"must be a non-negative integer, found {seed!r}")
        )
    if not problem.risks:
        issues.append(
            Issue(
                "Risks",
                None,
                None,
                "the workbook has no Risks row: there is nothing to sample (add a Risks sheet)",
            )
        )
    if issues:
        raise InputError(issues)


def draw(problem: Problem, n: int, seed: int) -> Samples:
    """N samples of the workbook's risks (module docstring: the order of the draws)."""
    check_request(problem, n, seed)
    last_year = problem.years[-1]
    rng = np.random.default_rng(seed)
    # code[n, j]: length (clipped) of the event that starts in sample n at the j-th
    # (risk, start year) pair, 0 for none: a sample's events, as one comparable row
    pairs = [(k, t) for k, r in enumerate(problem.risks) for t in r.start_years]
    code = np.zeros((n, max(len(pairs), 1)), dtype=np.uint16)
    j = 0
    for risk in problem.risks:
        free_from = np.full(n, np.iinfo(np.int64).min)  # year a new event may start
        for t in risk.start_years:
            u = rng.random(n)
            d = rng.integers(risk.min_years, risk.max_years, size=n, endpoint=True)
            starts = np.flatnonzero((free_from <= t) & (u < risk.probability))
            free_from[starts] = t + d[starts]
            code[starts, j] = np.minimum(t + d[starts] - 1, last_year) - t + 1
            j += 1
    sample, column = np.nonzero(code)  # row-major: by sample, then risk, then year
    start = np.array([t for _, t in pairs] or [0], dtype=np.int64)[column]
    kind = np.array([k for k, _ in pairs] or [0], dtype=np.int64)[column]
    last = start + code[sample, column].astype(np.int64) - 1
    distinct, scenario_of, counts, has_normal = _merge(code)
    return Samples(
        list(problem.risks),
        n,
        seed,
        sample.astype(np.int64),
        kind,
        start,
        last,
        distinct,
        scenario_of,
        counts,
        has_normal,
    )


def row_keys(rows: np.ndarray) -> np.ndarray:
    """Each row of a 2-D array as one value (its bytes), for np.unique over rows: one
    sort of N keys instead of a lexicographic sort over the columns."""
    if rows.shape[1] == 0:  # no columns: every row the same
        return np.zeros(len(rows), dtype=np.uint8)
    rows = np.ascontiguousarray(rows)
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()


def _merge(code: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Distinct rows of `code`: no-event first, then by decreasing count, ties first drawn."""
    # grouped by a dict of the rows' bytes, not np.unique's sort of them (100,000 samples
    # of 260 columns: 0.46 -> 0.1 s); what follows depends only on the groups
    groups: dict[bytes, int] = {}
    inverse = np.fromiter(
        (groups.setdefault(k, len(groups)) for k in row_keys(code).tolist()),
        dtype=np.int64,
        count=len(code),
    )
    _, first = np.unique(inverse, return_index=True)
    counts = np.bincount(inverse, minlength=len(groups))
    normal = ~code[first].any(axis=1)
    order = np.lexsort((first, -counts, ~normal))  # last key sorts first
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.ravel()], counts[order], bool(normal.any())


def scenario_rows(samples: Samples) -> list[list]:
    """The `Scenarios` sheet of SPEC §7 (header first)."""
    rows: list[list] = [[c.name for c in columns("Scenarios")]]
    texts = ([] if samples.has_normal else [""]) + samples.describe_many(samples.distinct)
    for name, p, text in zip(samples.names, samples.probabilities, texts, strict=True):
        rows.append([name, p, 1, 1, text or "no event"])
    return rows


def disruption_rows(samples: Samples) -> list[list]:
    """The `Disruptions` sheet of SPEC §7 (header first): each event's rows, every value
    written out; a non-spot risk that squeezes the spot market adds a `spot` row."""
    rows: list[list] = [[c.name for c in columns("Disruptions")]]
    reps = samples.distinct[1:] if samples.has_normal else samples.distinct
    for name, rep in zip(samples.names[1:], reps.tolist(), strict=True):
        for k, first, last in samples.events_of(rep):
            r = samples.risks[k]
            rows.append(
                [name, r.scope, r.target, r.material, first, last, r.availability]
                + [r.price_multiplier]
            )
            if r.hits_spot_too:
                rows.append(
                    [name, "spot", None, r.material, first, last, r.spot_availability]
                    + [r.spot_price_multiplier]
                )
    return rows
