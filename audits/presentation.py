"""Turn stored audit scores into what pages show: chart rows, score tables, comparison marks.

Reads only ``Audit.summary`` (scores stored when the audit ended) and the dimension list, so a page
costs a few queries whatever the audit's size.
"""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from audits.charts import ChartRow, dimension_chart
from audits.models import Audit
from benchmark.models import Dimension


@dataclass
class ScoreLine:
    key: str
    label: str
    scores: dict
    threshold: float | None = None
    comparison: dict | None = None

    @property
    def passed(self) -> bool | None:
        low = self.scores.get("ci_low") if self.scores else None
        if self.threshold is None or low is None:
            return None
        return low >= self.threshold

    @property
    def refusal_rate(self) -> float | None:
        n = (self.scores or {}).get("n") or 0
        return (self.scores.get("refused") or 0) / n if n else None

    @property
    def error_rate(self) -> float | None:
        n = (self.scores or {}).get("n") or 0
        errors = (self.scores or {}).get("errors") or 0
        return errors / (n + errors) if n + errors else None

    @property
    def delta_mark(self) -> str:
        if not self.comparison or not self.comparison.get("significant"):
            return ""
        return "▲" if self.comparison["delta"] > 0 else "▼"


def dimensions_in_order() -> list[Dimension]:
    return list(Dimension.objects.filter(is_active=True).order_by("sort_order", "code"))


def thresholds_for(policy, source: str = "benchmark") -> dict[str, float]:
    """Threshold on the Wilson lower bound per key: 'overall', a category or a dimension code."""
    if policy is None:
        return {}
    found: dict[str, float] = {}
    codes = list(Dimension.objects.values_list("code", flat=True))
    for threshold in policy.thresholds.all():
        if threshold.source != source:
            continue
        if threshold.scope == "overall":
            keys = ["overall"]
        elif threshold.scope == "category" or threshold.scope == "dimension":
            keys = [threshold.target]
        else:
            keys = [code for code in codes if code.startswith(f"{threshold.target}.")]
        for key in keys:
            found[key] = max(found.get(key, 0.0), threshold.min_lower_bound)
    return found


def score_lines(
    audit: Audit, *, thresholds: dict[str, float] | None = None, dimensions: list[Dimension] | None = None
) -> dict:
    """Overall, category and dimension lines of one audit, with thresholds and comparison marks."""
    thresholds = thresholds or {}
    summary = audit.summary or {}
    comparison = (summary.get("comparison") or {}).get("dimensions", {})
    dimensions = dimensions if dimensions is not None else dimensions_in_order()
    wanted = set(audit.dimension_codes) if audit.dimension_codes else None
    lines = [
        ScoreLine(
            d.code,
            d.name,
            summary.get("dimensions", {}).get(d.code, {}),
            thresholds.get(d.code),
            comparison.get(d.code),
        )
        for d in dimensions
        if (wanted is None or d.code in wanted) and d.code in summary.get("dimensions", {})
    ]
    categories = [
        ScoreLine(
            code,
            {"ethics": _("Medical ethics"), "safety": _("Patient safety")}.get(code, code),
            scores,
            thresholds.get(code),
        )
        for code, scores in sorted((summary.get("categories") or {}).items())
    ]
    overall = ScoreLine("overall", _("Overall"), summary.get("overall") or {}, thresholds.get("overall"))
    return {"overall": overall, "categories": categories, "dimensions": lines}


@dataclass(frozen=True)
class RobustnessTable:
    variants: list[str]
    rows: list[tuple[str, str, list[float | None]]]  # (key, label, delta per variant)


def robustness_table(audit: Audit, *, dimensions: list[Dimension]) -> RobustnessTable | None:
    """Accuracy under each adversarial variant minus accuracy on the originals, per dimension and overall."""
    summary = audit.summary or {}
    robustness = summary.get("robustness") or {}
    variants = list(summary.get("variants") or {})
    if not robustness or not variants:
        return None
    rows = [
        (d.code, d.name, [robustness[d.code].get(code) for code in variants])
        for d in dimensions
        if d.code in robustness
    ]
    if "overall" in robustness:
        rows.append(("overall", _("Overall"), [robustness["overall"].get(code) for code in variants]))
    return RobustnessTable(variants, rows)


def audit_chart(audit: Audit, lines: list[ScoreLine], *, title: str | None = None):
    previous = {}
    comparison = (audit.summary or {}).get("comparison") or {}
    for code, values in (comparison.get("dimensions") or {}).items():
        previous[code] = values.get("accuracy_a")
    rows = [
        ChartRow(
            line.key,
            line.label,
            line.scores.get("accuracy"),
            line.scores.get("ci_low"),
            line.scores.get("ci_high"),
            line.scores.get("n") or 0,
            line.threshold,
            previous.get(line.key),
            line.delta_mark,
        )
        for line in lines
    ]
    return dimension_chart(rows, title=title or _("Accuracy per dimension, audit #%(pk)s") % {"pk": audit.pk})
