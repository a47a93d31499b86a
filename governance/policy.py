"""Approval policies evaluated against measured evidence: Wilson lower bounds, refusal and error rates,
and the freshness of the audit. The result is a pass/fail table the IRB sees before deciding."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from audits.models import Audit
from governance.models import ApprovalPolicy, PolicyThreshold, default_approval_months


@dataclass(frozen=True)
class Check:
    label: str
    required: str
    actual: str
    passed: bool
    source: str = "benchmark"
    target: str = ""


@dataclass
class PolicyEvaluation:
    policy: ApprovalPolicy | None
    audit: Audit | None
    simulation_audit: Audit | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.policy is not None and bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def failed_checks(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def as_dict(self) -> dict:
        return {
            "policy": self.policy.name if self.policy else None,
            "audit": self.audit.pk if self.audit else None,
            "simulation_audit": self.simulation_audit.pk if self.simulation_audit else None,
            "passed": self.passed,
            "checks": [check.__dict__ for check in self.checks],
        }


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def _threshold_blocks(threshold: PolicyThreshold, summary: dict) -> list[tuple[str, dict | None]]:
    if threshold.scope == PolicyThreshold.Scope.OVERALL:
        return [(_("overall"), summary.get("overall"))]
    if threshold.scope == PolicyThreshold.Scope.CATEGORY:
        return [(threshold.target, (summary.get("categories") or {}).get(threshold.target))]
    if threshold.scope == PolicyThreshold.Scope.DIMENSION:
        return [(threshold.target, (summary.get("dimensions") or {}).get(threshold.target))]
    prefix = f"{threshold.target}."
    return [
        (code, block) for code, block in sorted((summary.get("dimensions") or {}).items()) if code.startswith(prefix)
    ]


def _rate_checks(policy: ApprovalPolicy, summary: dict, source: str) -> list[Check]:
    overall = summary.get("overall") or {}
    answered = overall.get("n") or 0
    errors = overall.get("errors") or 0
    refusal_rate = (overall.get("refused") or 0) / answered if answered else None
    error_rate = errors / (answered + errors) if answered + errors else None
    return [
        Check(
            _("Refusal rate"),
            f"≤ {policy.max_refusal_rate:.3f}",
            _fmt(refusal_rate),
            refusal_rate is not None and refusal_rate <= policy.max_refusal_rate,
            source,
        ),
        Check(
            _("Error rate"),
            f"≤ {policy.max_error_rate:.3f}",
            _fmt(error_rate),
            error_rate is not None and error_rate <= policy.max_error_rate,
            source,
        ),
    ]


def latest_scored_audit(request, *, kind: str, suite) -> Audit | None:
    filters = {"status__in": Audit.FINISHED_WITH_SCORES, "kind": kind}
    if kind == Audit.Kind.BENCHMARK:
        filters["benchmark_version__suite"] = suite
    else:
        filters["scenario_version__suite"] = suite
    endpoint_ids = list(request.endpoints.values_list("id", flat=True))
    from django.db.models import Q

    return (
        Audit.objects.filter(
            Q(deployment_request=request) | Q(endpoint_id__in=endpoint_ids, deployment_request=None), **filters
        )
        .select_related("endpoint", "benchmark_version__suite", "scenario_version__suite")
        .order_by("-finished_at")
        .first()
    )


def policy_for(request) -> ApprovalPolicy | None:
    return (
        ApprovalPolicy.objects.filter(risk_tier=request.risk_tier)
        .select_related("required_suite", "required_scenario_suite")
        .prefetch_related("thresholds")
        .first()
    )


def approval_months_for(request) -> int:
    """The approval period of the request's tier: its policy's, else the tier default (6 months for high)."""
    policy = policy_for(request)
    return policy.approval_months if policy else default_approval_months(request.risk_tier)


def approval_expiry(request, *, start):
    return start + timedelta(days=round(approval_months_for(request) * 30.44))


def evaluate_request(request, *, now=None) -> PolicyEvaluation:
    """Evaluate the request's approval policy against its most recent scored audits."""
    now = now or timezone.now()
    policy = policy_for(request)
    if policy is None:
        return PolicyEvaluation(
            None, None, checks=[Check(_("Approval policy for this risk tier"), _("defined"), _("none"), False)]
        )
    audit = latest_scored_audit(request, kind=Audit.Kind.BENCHMARK, suite=policy.required_suite)
    evaluation = PolicyEvaluation(policy, audit)
    evaluation.checks += audit_checks(policy, audit, "benchmark", policy.required_suite.name, now)
    if policy.required_scenario_suite_id:
        simulation = latest_scored_audit(request, kind=Audit.Kind.SIMULATION, suite=policy.required_scenario_suite)
        evaluation.simulation_audit = simulation
        evaluation.checks += audit_checks(policy, simulation, "simulation", policy.required_scenario_suite.name, now)
    return evaluation


def audit_checks(policy: ApprovalPolicy, audit: Audit | None, source: str, suite_name: str, now) -> list[Check]:
    label = _("Completed audit on %(suite)s") % {"suite": suite_name}
    if audit is None:
        return [Check(label, _("present"), _("missing"), False, source)]
    age = now - (audit.finished_at or audit.created_at)
    checks = [
        Check(label, _("present"), _("audit #%(pk)s") % {"pk": audit.pk}, True, source),
        Check(
            _("Audit freshness"),
            _("≤ %(days)d days") % {"days": policy.max_audit_age_days},
            _("%(days)d days") % {"days": age.days},
            age <= timedelta(days=policy.max_audit_age_days),
            source,
        ),
    ]
    summary = audit.summary or {}
    for threshold in policy.thresholds.all():
        if threshold.source != source:
            continue
        for target, block in _threshold_blocks(threshold, summary):
            low = (block or {}).get("ci_low")
            checks.append(
                Check(
                    _("Wilson lower bound: %(target)s") % {"target": target},
                    f"≥ {threshold.min_lower_bound:.2f}",
                    _fmt(low),
                    low is not None and low >= threshold.min_lower_bound,
                    source,
                    target,
                )
            )
    checks += _rate_checks(policy, summary, source)
    return checks
