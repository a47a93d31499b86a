"""Helpers for audit tests that run real workers against the simulator."""

import time
from collections import Counter

from audits.models import Audit, ItemResult
from audits.simulator import Profile, decide
from benchmark.models import BenchmarkVersion


def wait_for_audit(audit: Audit, *, timeout: float = 120, statuses=Audit.TERMINAL) -> Audit:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        audit.refresh_from_db()
        if audit.status in statuses and (audit.scored_at or audit.status not in Audit.TERMINAL):
            return audit
        time.sleep(0.2)
    raise AssertionError(
        f"audit {audit.pk} still {audit.status} after {timeout}s ({audit.done_items}/{audit.total_items})"
    )


def wait_until(predicate, *, timeout: float = 60, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{message} not reached within {timeout}s")


def expected_outcomes(version: BenchmarkVersion, profile: Profile) -> dict[str, Counter]:
    """What the simulator's deterministic decisions imply, per dimension."""
    expected: dict[str, Counter] = {}
    for external_id, code in version.items.values_list("external_id", "dimension__code"):
        expected.setdefault(code, Counter())[decide(profile, external_id, code)] += 1
    return expected


def assert_scores_match_simulator(audit: Audit, profile: Profile) -> None:
    expected = expected_outcomes(audit.benchmark_version, profile)
    summary = audit.summary["dimensions"]
    for code, counts in expected.items():
        scores = summary[code]
        assert scores["n"] == sum(counts.values()), code
        assert scores["correct"] == counts["correct"], code
        assert scores["refused"] == counts["refused"], code
        assert scores["unparseable"] == counts["unparseable"], code
        assert scores["empty"] == counts["empty"], code
        assert scores["errors"] == 0, code


def assert_exactly_one_result_per_item(audit: Audit) -> None:
    items = audit.benchmark_version.item_count
    assert ItemResult.objects.filter(audit=audit).count() == items
    assert ItemResult.objects.filter(audit=audit).values("item_id").distinct().count() == items
