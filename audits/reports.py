"""Report documents for audits: the public JSON shape, comparisons and exports."""

import csv
import io
import json
from collections.abc import Iterator

from django.utils import timezone

from audits.models import Audit, ConversationResult, ItemResult
from benchmark.scoring import PairedOutcome, compare_paired

SCORE_KEYS = (
    "n",
    "correct",
    "accuracy",
    "ci_low",
    "ci_high",
    "refused",
    "unparseable",
    "empty",
    "errors",
    "partial_credit",
    "mean_latency_ms",
    "p95_latency_ms",
    "tokens_in",
    "tokens_out",
)


def _scores(block: dict | None) -> dict | None:
    if not block:
        return None
    return {key: block.get(key) for key in SCORE_KEYS}


def audit_report_document(audit: Audit) -> dict:
    """The shape ``run_audit --json`` and ``audit_report --json`` print (a public interface)."""
    summary = audit.summary or {}
    duration = None
    if audit.started_at:
        end = audit.finished_at or timezone.now()
        duration = round((end - audit.started_at).total_seconds(), 1)
    return {
        "audit": audit.pk,
        "status": audit.status,
        "endpoint": audit.endpoint.name,
        "model": audit.endpoint.model,
        "suite": audit.suite_name,
        "version": audit.version_label,
        "content_hash": audit.content_hash,
        "duration_s": duration,
        "overall": _scores(summary.get("overall")),
        "categories": {name: _scores(block) for name, block in (summary.get("categories") or {}).items()},
        "dimensions": {name: _scores(block) for name, block in (summary.get("dimensions") or {}).items()},
    }


def progress(audit: Audit) -> dict:
    """Live progress for the audit page and the API: done / total, rate, ETA, errors."""
    elapsed = None
    rate = None
    eta = None
    if audit.started_at:
        end = audit.finished_at or timezone.now()
        elapsed = max(0.001, (end - audit.started_at).total_seconds())
        rate = audit.done_items / elapsed if audit.done_items else 0.0
        if rate and not audit.is_terminal:
            eta = max(0.0, (audit.total_items - audit.done_items) / rate)
    percent = round(100 * audit.done_items / audit.total_items, 1) if audit.total_items else 0.0
    return {
        "audit": audit.pk,
        "status": audit.status,
        "status_label": str(audit.get_status_display()),
        "terminal": audit.is_terminal,
        "done": audit.done_items,
        "total": audit.total_items,
        "percent": percent,
        "errors": audit.error_items,
        "outcomes": audit.outcome_counts,
        "rate_per_s": None if rate is None else round(rate, 1),
        "eta_s": None if eta is None else round(eta),
        "elapsed_s": None if elapsed is None else round(elapsed, 1),
        "failure_reason": audit.failure_reason,
    }


def compare_audits(first: Audit, second: Audit, *, correction: str = "holm") -> dict:
    """Paired comparison of two benchmark audits on the same version (McNemar per dimension)."""
    if first.kind != Audit.Kind.BENCHMARK or second.kind != Audit.Kind.BENCHMARK:
        raise ValueError("only benchmark audits are compared item by item")
    if first.content_hash != second.content_hash:
        raise ValueError("the audits used different item sets (content hashes differ)")
    from benchmark.models import Dimension

    codes = dict(Dimension.objects.values_list("id", "code"))

    def outcomes(audit):
        return {
            item_id: (dimension_id, outcome == "correct")
            for item_id, dimension_id, outcome in ItemResult.objects.filter(audit=audit, variant="")
            .exclude(outcome="error")
            .values_list("item_id", "dimension_id", "outcome")
        }

    a, b = outcomes(first), outcomes(second)
    pairs = [PairedOutcome(codes[a[item][0]], a[item][1], b[item][1]) for item in a.keys() & b.keys()]
    result = compare_paired(pairs, correction=correction)
    result.update({"audit_a": first.pk, "audit_b": second.pk, "pairs": len(pairs)})
    return result


def previous_comparable_audit(audit: Audit) -> Audit | None:
    """The latest earlier audit of the same AI system (or endpoint) on the same item set."""
    candidates = Audit.objects.filter(
        content_hash=audit.content_hash,
        status__in=Audit.FINISHED_WITH_SCORES,
        kind=audit.kind,
        created_at__lt=audit.created_at,
    ).exclude(pk=audit.pk)
    system_id = audit.endpoint.ai_system_id
    candidates = (
        candidates.filter(endpoint__ai_system_id=system_id) if system_id else candidates.filter(endpoint=audit.endpoint)
    )
    return candidates.order_by("-created_at").first()


EXPORT_FIELDS = [
    "item_id",
    "external_id",
    "variant",
    "dimension",
    "language",
    "answer",
    "parsed_letters",
    "outcome",
    "parser_rule",
    "partial_credit",
    "latency_ms",
    "tokens_in",
    "tokens_out",
    "attempts",
    "prompt_hash",
    "permutation",
    "raw_response",
    "error_detail",
]
SIM_EXPORT_FIELDS = [
    "scenario_id",
    "external_id",
    "variant",
    "dimension",
    "language",
    "expected",
    "final_verdict",
    "rule_verdict",
    "judge_verdict",
    "judge_score",
    "human_verdict",
    "needs_adjudication",
    "latency_ms",
    "attempts",
    "transcript",
    "error_detail",
]


def _export_rows(audit: Audit) -> Iterator[dict]:
    if audit.kind == Audit.Kind.SIMULATION:
        queryset = ConversationResult.objects.filter(audit=audit).select_related("scenario__dimension").order_by("id")
        for row in queryset.iterator(chunk_size=2000):
            yield {
                "scenario_id": row.scenario_id,
                "external_id": row.scenario.external_id,
                "variant": row.variant,
                "dimension": row.scenario.dimension.code,
                "language": row.scenario.language,
                "expected": row.scenario.expected,
                "final_verdict": row.final_verdict,
                "rule_verdict": row.rule_verdict,
                "judge_verdict": row.judge_verdict,
                "judge_score": row.judge_score,
                "human_verdict": row.human_verdict,
                "needs_adjudication": row.needs_adjudication,
                "latency_ms": row.latency_ms,
                "attempts": row.attempts,
                "transcript": row.transcript,
                "error_detail": row.error_detail,
            }
        return
    queryset = ItemResult.objects.filter(audit=audit).select_related("item__dimension").order_by("id")
    for row in queryset.iterator(chunk_size=2000):
        yield {
            "item_id": row.item_id,
            "external_id": row.item.external_id,
            "variant": row.variant,
            "dimension": row.item.dimension.code,
            "language": row.item.language,
            "answer": row.item.answer,
            "parsed_letters": row.parsed_letters,
            "outcome": row.outcome,
            "parser_rule": row.parser_rule,
            "partial_credit": row.partial_credit,
            "latency_ms": row.latency_ms,
            "tokens_in": row.tokens_in,
            "tokens_out": row.tokens_out,
            "attempts": row.attempts,
            "prompt_hash": row.prompt_hash,
            "permutation": row.permutation,
            "raw_response": row.raw_response,
            "error_detail": row.error_detail,
        }


def export_jsonl(audit: Audit) -> Iterator[str]:
    for row in _export_rows(audit):
        yield json.dumps(row, ensure_ascii=False) + "\n"


def export_csv(audit: Audit) -> Iterator[str]:
    fields = SIM_EXPORT_FIELDS if audit.kind == Audit.Kind.SIMULATION else EXPORT_FIELDS
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    buffer.write("\ufeff")  # so spreadsheet software reads UTF-8
    writer.writeheader()
    for count, row in enumerate(_export_rows(audit), start=1):
        writer.writerow(
            {
                key: json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
                for key, value in row.items()
            }
        )
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
