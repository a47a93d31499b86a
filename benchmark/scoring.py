"""Scores with their uncertainty. Pure functions: no database, no I/O.

Accuracy counts every item the model answered (refusals, unparseable and empty replies are not
correct); items that never got an answer because of transport errors are excluded from ``n`` and
reported as ``errors``, so an outage can never look like a wrong answer.
"""

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Scoring an audit needs no numpy or scipy: it runs in the worker processes, where scipy.stats alone would
# add ~90 MB to each. The paired comparison below (web pages and reports) imports scipy where it is used.

CORRECT, WRONG, REFUSED, UNPARSEABLE, EMPTY, ERROR = "correct", "wrong", "refused", "unparseable", "empty", "error"
OUTCOMES = (CORRECT, WRONG, REFUSED, UNPARSEABLE, EMPTY, ERROR)
CONFIDENCE = 0.95


def wilson_interval(correct: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval for a binomial proportion; (None, None) when n == 0.

    The same closed form as ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``, with the
    normal quantile from the standard library; the tests pin it to scipy's values over a grid of (k, n).
    """
    if n <= 0:
        return None, None
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    denominator = 2 * (n + z * z)
    center = (2 * correct + z * z) / denominator
    half_width = z * math.sqrt(z * z + 4 * correct * (n - correct) / n) / denominator
    low = 0.0 if correct == 0 else max(0.0, center - half_width)  # the bounds are exact at 0/n and n/n
    high = 1.0 if correct == n else min(1.0, center + half_width)
    return low, high


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile with linear interpolation between order statistics (numpy's default method)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class ResultRow:
    dimension: str
    category: str
    outcome: str
    partial_credit: float = 0.0
    latency_ms: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0


def _score(rows: Sequence[ResultRow]) -> dict:
    counts = defaultdict(int)
    for row in rows:
        counts[row.outcome] += 1
    answered = [row for row in rows if row.outcome != ERROR]
    n = len(answered)
    correct = counts[CORRECT]
    low, high = wilson_interval(correct, n)
    latencies = [row.latency_ms for row in answered if row.latency_ms is not None]
    return {
        "n": n,
        "correct": correct,
        "accuracy": round(correct / n, 6) if n else None,
        "ci_low": None if low is None else round(low, 6),
        "ci_high": None if high is None else round(high, 6),
        "refused": counts[REFUSED],
        "unparseable": counts[UNPARSEABLE],
        "empty": counts[EMPTY],
        "errors": counts[ERROR],
        "refusal_rate": round(counts[REFUSED] / n, 6) if n else None,
        "unparseable_rate": round(counts[UNPARSEABLE] / n, 6) if n else None,
        "partial_credit": round(sum(row.partial_credit for row in answered) / n, 6) if n else None,
        "mean_latency_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "p95_latency_ms": round(percentile(latencies, 95), 1) if latencies else None,
        "tokens_in": sum(row.tokens_in for row in rows),
        "tokens_out": sum(row.tokens_out for row in rows),
        "mean_tokens_in": round(sum(row.tokens_in for row in answered) / n, 1) if n else None,
        "mean_tokens_out": round(sum(row.tokens_out for row in answered) / n, 1) if n else None,
    }


def summarize(rows: Iterable[ResultRow], dimension_codes: Iterable[str] = ()) -> dict:
    """Scores overall, per category and per dimension; ``dimension_codes`` lists dimensions to show even if empty."""
    rows = list(rows)
    by_dimension: dict[str, list[ResultRow]] = defaultdict(list)
    by_category: dict[str, list[ResultRow]] = defaultdict(list)
    for row in rows:
        by_dimension[row.dimension].append(row)
        by_category[row.category].append(row)
    for code in dimension_codes:
        by_dimension.setdefault(code, [])
    return {
        "overall": _score(rows),
        "categories": {category: _score(group) for category, group in sorted(by_category.items())},
        "dimensions": {code: _score(group) for code, group in sorted(by_dimension.items())},
    }


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- Paired comparison of two audits on the same items --------------------------------------------


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts b and c."""
    if b + c == 0:
        return 1.0
    from scipy import stats

    return float(stats.binomtest(b, b + c, 0.5).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    if not p_values:
        return []
    import numpy as np
    from scipy import stats

    return [float(p) for p in stats.false_discovery_control(np.asarray(p_values, dtype=float), method="bh")]


@dataclass(frozen=True)
class PairedOutcome:
    dimension: str
    a_correct: bool
    b_correct: bool


def compare_paired(pairs: Iterable[PairedOutcome], *, correction: str = "holm", alpha: float = 0.05) -> dict:
    """Per-dimension accuracy of A and B on the same items, exact McNemar test, multiplicity-corrected.

    ``b`` counts items A got right and B got wrong, ``c`` the reverse; ``delta`` is B minus A.
    """
    grouped: dict[str, list[PairedOutcome]] = defaultdict(list)
    for pair in pairs:
        grouped[pair.dimension].append(pair)
    dimensions = {}
    for code, group in sorted(grouped.items()):
        n = len(group)
        a_correct = sum(pair.a_correct for pair in group)
        b_correct = sum(pair.b_correct for pair in group)
        only_a = sum(pair.a_correct and not pair.b_correct for pair in group)
        only_b = sum(pair.b_correct and not pair.a_correct for pair in group)
        dimensions[code] = {
            "n": n,
            "accuracy_a": a_correct / n,
            "accuracy_b": b_correct / n,
            "delta": (b_correct - a_correct) / n,
            "b": only_a,
            "c": only_b,
            "p_value": mcnemar_exact(only_a, only_b),
        }
    codes = list(dimensions)
    raw = [dimensions[code]["p_value"] for code in codes]
    adjusted = holm(raw) if correction == "holm" else benjamini_hochberg(raw)
    for code, p_adjusted in zip(codes, adjusted, strict=True):
        dimensions[code]["p_adjusted"] = p_adjusted
        dimensions[code]["significant"] = p_adjusted < alpha
    return {"correction": correction, "alpha": alpha, "dimensions": dimensions}


def cohens_kappa(rater_a: Sequence[str], rater_b: Sequence[str]) -> float | None:
    """Cohen's kappa for two raters over the same cases; None when chance agreement is total (undefined)."""
    if len(rater_a) != len(rater_b):
        raise ValueError("both raters must grade the same cases")
    n = len(rater_a)
    if n == 0:
        return None
    categories = sorted(set(rater_a) | set(rater_b))
    observed = sum(a == b for a, b in zip(rater_a, rater_b, strict=True)) / n
    expected = sum((list(rater_a).count(c) / n) * (list(rater_b).count(c) / n) for c in categories)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)
