"""The evidence a committee sees for a request: the policy table and each audit's scores and chart."""

from django.db.models import Q

from audits.models import Audit
from audits.presentation import audit_chart, dimensions_in_order, score_lines, thresholds_for
from governance.models import DeploymentRequest
from governance.policy import evaluate_request, policy_for


def request_audits(request: DeploymentRequest):
    endpoint_ids = list(request.endpoints.values_list("id", flat=True))
    return (
        Audit.objects.filter(Q(deployment_request=request) | Q(endpoint_id__in=endpoint_ids, deployment_request=None))
        .select_related("endpoint", "benchmark_version__suite", "scenario_version__suite")
        .order_by("-created_at")
    )


def _audit_rows(request: DeploymentRequest):
    from django.db.models.fields.json import KT

    return (
        request_audits(request)
        .defer("summary", "fingerprint", "outcome_counts")
        .annotate(overall_accuracy=KT("summary__overall__accuracy"))
    )


def evidence_for(request: DeploymentRequest) -> dict:
    evaluation = evaluate_request(request)
    policy = policy_for(request)
    dimensions = dimensions_in_order()
    shown = [audit for audit in (evaluation.audit, evaluation.simulation_audit) if audit is not None]
    blocks = []
    for audit in shown:
        source = "simulation" if audit.kind == Audit.Kind.SIMULATION else "benchmark"
        thresholds = thresholds_for(policy, source)
        lines = score_lines(audit, thresholds=thresholds, dimensions=dimensions)
        comparison = (audit.summary or {}).get("comparison")
        blocks.append(
            {
                "audit": audit,
                "lines": lines,
                "chart": audit_chart(audit, lines["dimensions"]),
                "comparison": comparison,
                "robustness": (audit.summary or {}).get("robustness"),
                "adjudication": (audit.summary or {}).get("adjudication"),
            }
        )
    return {
        "evaluation": evaluation,
        "policy": policy,
        "blocks": blocks,
        "other_audits": [audit for audit in _audit_rows(request)[:30] if audit not in shown],
    }
