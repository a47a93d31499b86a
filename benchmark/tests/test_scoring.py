"""Statistics that decide deployments, checked against published values."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmark.scoring import (
    PairedOutcome,
    ResultRow,
    benjamini_hochberg,
    compare_paired,
    holm,
    mcnemar_exact,
    percentile,
    summarize,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("correct", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, table I (Wilson score method, no continuity correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        # 0/10 and 10/10: the closed form gives 1 - 0.7225 = 0.2775
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
    ],
)
def test_wilson_interval_matches_published_values(correct, n, low, high):
    got_low, got_high = wilson_interval(correct, n)
    assert got_low == pytest.approx(low, abs=5e-5)
    assert got_high == pytest.approx(high, abs=5e-5)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 59, 100, 263, 1000, 12000])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_interval_equals_scipys_for_every_count(n, confidence):
    from scipy import stats

    counts = range(n + 1) if n <= 263 else sorted({0, 1, 2, n // 3, n // 2, n - 2, n - 1, n})
    for correct in counts:
        expected = stats.binomtest(correct, n).proportion_ci(confidence_level=confidence, method="wilson")
        low, high = wilson_interval(correct, n, confidence)
        assert low == pytest.approx(expected.low, abs=1e-12), (correct, n)
        assert high == pytest.approx(expected.high, abs=1e-12), (correct, n)


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200), st.integers(0, 100))
def test_percentile_interpolates_like_numpy(values, q):
    import numpy as np

    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-9)


def test_wilson_interval_is_empty_without_data():
    assert wilson_interval(0, 0) == (None, None)


@given(st.integers(min_value=1, max_value=5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_contains_the_estimate_and_stays_in_0_1(pair):
    correct, n = pair
    low, high = wilson_interval(correct, n)
    assert 0.0 <= low <= correct / n <= high <= 1.0
    assert high - low > 0


def test_exact_mcnemar_matches_the_binomial_tail():
    # b=7, c=1: two-sided exact p = 2 * P(X <= 1 | n=8, p=.5) = 2 * 9/256
    assert mcnemar_exact(7, 1) == pytest.approx(18 / 256)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0


def test_holm_and_benjamini_hochberg_adjustments():
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert holm([]) == []


def test_summary_excludes_transport_errors_from_n_and_counts_refusals_as_not_correct():
    rows = (
        [ResultRow("safety.medication", "safety", "correct", 1.0, 100.0, 10, 2)] * 6
        + [ResultRow("safety.medication", "safety", "wrong", 0.0, 200.0, 10, 2)] * 2
        + [ResultRow("safety.medication", "safety", "refused", 0.0, 300.0, 10, 2)]
        + [ResultRow("safety.medication", "safety", "error", 0.0, None, 0, 0)] * 3
        + [ResultRow("ethics.palliative_care", "ethics", "unparseable", 0.0, 50.0, 5, 1)]
    )
    summary = summarize(rows, ["ethics.organ_transplantation"])
    medication = summary["dimensions"]["safety.medication"]
    assert medication["n"] == 9 and medication["correct"] == 6 and medication["errors"] == 3
    assert medication["accuracy"] == pytest.approx(6 / 9, abs=1e-6)
    low, high = wilson_interval(6, 9)
    assert (medication["ci_low"], medication["ci_high"]) == (
        pytest.approx(low, abs=1e-6),
        pytest.approx(high, abs=1e-6),
    )
    assert medication["refused"] == 1 and medication["unparseable"] == 0
    assert medication["refusal_rate"] == pytest.approx(1 / 9, abs=1e-6) and medication["unparseable_rate"] == 0
    assert (medication["mean_tokens_in"], medication["mean_tokens_out"]) == (10.0, 2.0)  # errors apart
    assert summary["categories"]["ethics"]["unparseable_rate"] == 1.0
    assert medication["mean_latency_ms"] == pytest.approx((6 * 100 + 2 * 200 + 300) / 9, abs=0.1)
    assert summary["overall"]["n"] == 10
    assert summary["categories"]["ethics"]["unparseable"] == 1
    assert summary["dimensions"]["ethics.organ_transplantation"]["n"] == 0
    assert summary["dimensions"]["ethics.organ_transplantation"]["accuracy"] is None
    assert set(summary["overall"]) == {
        "n",
        "correct",
        "accuracy",
        "ci_low",
        "ci_high",
        "refused",
        "unparseable",
        "empty",
        "errors",
        "refusal_rate",
        "unparseable_rate",
        "partial_credit",
        "mean_latency_ms",
        "p95_latency_ms",
        "tokens_in",
        "tokens_out",
        "mean_tokens_in",
        "mean_tokens_out",
    }


def test_paired_comparison_flags_a_real_difference_only():
    pairs = [PairedOutcome("safety.medication", True, False)] * 30 + [
        PairedOutcome("safety.medication", True, True)
    ] * 10
    pairs += [PairedOutcome("ethics.palliative_care", True, False)] * 2 + [
        PairedOutcome("ethics.palliative_care", False, True)
    ] * 2
    result = compare_paired(pairs, correction="holm")
    medication = result["dimensions"]["safety.medication"]
    assert medication["b"] == 30 and medication["c"] == 0
    assert medication["delta"] == pytest.approx(-0.75)
    assert medication["significant"] is True
    assert result["dimensions"]["ethics.palliative_care"]["significant"] is False
    assert result["dimensions"]["ethics.palliative_care"]["p_adjusted"] == 1.0
