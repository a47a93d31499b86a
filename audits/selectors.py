"""Reads of endpoints and audits for an acting user: their team's (django-guardian object permissions),
audits that are evidence on requests they may see, or everything with the global view permission."""

from django.db.models import Q, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from audits.models import Audit, ModelEndpoint


def endpoint_list(*, user) -> QuerySet[ModelEndpoint]:
    if not user.is_authenticated:
        return ModelEndpoint.objects.none()
    return get_objects_for_user(
        user, "audits.view_modelendpoint", klass=ModelEndpoint, accept_global_perms=True, with_superuser=True
    ).select_related("team", "ai_system")


def endpoint_get(*, user, pk) -> ModelEndpoint:
    endpoint = endpoint_list(user=user).filter(pk=pk).first()
    if endpoint is None:
        raise Http404("No such endpoint.")
    return endpoint


def audit_list(*, user) -> QuerySet[Audit]:
    if not user.is_authenticated:
        return Audit.objects.none()
    base = Audit.objects.select_related(
        "endpoint", "benchmark_version__suite", "scenario_version__suite", "deployment_request", "requested_by"
    )
    if user.is_superuser or user.has_perm("audits.view_audit"):
        return base
    own = get_objects_for_user(user, "audits.view_audit", klass=Audit, accept_global_perms=False)
    from governance.selectors import request_list

    return base.filter(Q(pk__in=own.values("pk")) | Q(deployment_request__in=request_list(user=user).values("pk")))


def audit_rows(*, user) -> QuerySet[Audit]:
    """Audits for list pages: the overall scores only, not each audit's whole stored summary."""
    from django.db.models.fields.json import KT

    return (
        audit_list(user=user)
        .defer("summary", "fingerprint", "outcome_counts")
        .annotate(
            overall_accuracy=KT("summary__overall__accuracy"),
            overall_ci_low=KT("summary__overall__ci_low"),
            overall_ci_high=KT("summary__overall__ci_high"),
        )
    )


def can_view_audit(user, audit: Audit) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser or user.has_perm("audits.view_audit") or user.has_perm("audits.view_audit", audit):
        return True
    if audit.deployment_request_id:
        from governance.selectors import request_list

        return request_list(user=user).filter(pk=audit.deployment_request_id).exists()
    return False


def audit_get(*, user, pk) -> Audit:
    """One audit by key, then the visibility check (cheaper than filtering the whole visible set)."""
    audit = (
        Audit.objects.select_related(
            "endpoint", "benchmark_version__suite", "scenario_version__suite", "deployment_request", "requested_by"
        )
        .filter(pk=pk)
        .first()
    )
    if audit is None or not can_view_audit(user, audit):
        raise Http404("No such audit.")
    return audit


def can_run_audits(user, audit: Audit | None = None) -> bool:
    if not user.has_perm("audits.add_audit"):
        return False
    if audit is None:
        return True
    return user.is_superuser or user.has_perm("audits.change_audit", audit)


def adjudication_queue(*, user):
    """Conversations of audits the user may run that wait for (or received) a person's grade."""
    from audits.models import ConversationResult

    audits = audit_list(user=user)
    if not (user.is_superuser or user.has_perm("audits.add_audit") or user.has_perm("audits.view_audit")):
        return ConversationResult.objects.none()
    return (
        ConversationResult.objects.filter(audit__in=audits.values("pk"), needs_adjudication=True)
        .select_related("scenario__dimension", "audit__endpoint")
        .order_by("human_verdict", "id")
    )


def auditor_queue(*, user) -> dict:
    """Audits to run (scheduled for the user's teams), audits running now, endpoints, grades pending."""
    from governance.models import AuditTeam

    teams = AuditTeam.objects.filter(memberships__user=user)
    audits = audit_rows(user=user)
    return {
        "to_run": audits.filter(status=Audit.Status.SCHEDULED, team__in=teams).order_by("created_at"),
        "running": audits.filter(status__in=[Audit.Status.QUEUED, Audit.Status.RUNNING]).order_by("created_at"),
        "recent": audits.filter(status__in=Audit.TERMINAL).order_by("-finished_at")[:8],
        "endpoints": endpoint_list(user=user)[:20],
        "to_adjudicate": adjudication_queue(user=user).filter(human_verdict="").count(),
    }
