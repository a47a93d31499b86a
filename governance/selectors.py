"""Reads of governance objects, always for an acting user: what they may see (django-guardian)."""

from django.db.models import Q, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from governance.models import (
    AISystem,
    CommitteeMembership,
    DeploymentRequest,
    Event,
    IncidentReport,
    IRBCommittee,
    Meeting,
    ReviewAssignment,
)
from governance.roles import user_roles


def request_list(*, user) -> QuerySet[DeploymentRequest]:
    if not user.is_authenticated:
        return DeploymentRequest.objects.none()
    visible = get_objects_for_user(
        user,
        "governance.view_deploymentrequest",
        klass=DeploymentRequest,
        accept_global_perms=True,
        with_superuser=True,
    )
    return visible.select_related("ai_system", "requester", "committee").order_by("-created_at")


def request_get(*, user, pk) -> DeploymentRequest:
    request = request_list(user=user).filter(pk=pk).first()
    if request is None:
        raise Http404("No such deployment request.")
    return request


def request_timeline(*, request: DeploymentRequest) -> QuerySet[Event]:
    return Event.objects.filter(request=request).select_related("actor").order_by("seq")


def system_list(*, user) -> QuerySet[AISystem]:
    if not user.is_authenticated:
        return AISystem.objects.none()
    if user.is_superuser or user.has_perm("governance.view_aisystem"):
        return AISystem.objects.select_related("owner_department", "owner")
    own = get_objects_for_user(user, "governance.view_aisystem", klass=AISystem, accept_global_perms=False)
    requested = AISystem.objects.filter(deployment_requests__in=request_list(user=user))
    return (
        AISystem.objects.filter(Q(pk__in=own) | Q(pk__in=requested))
        .distinct()
        .select_related("owner_department", "owner")
    )


def committees_of(*, user) -> QuerySet[IRBCommittee]:
    return IRBCommittee.objects.filter(memberships__user=user).distinct()


def meeting_list(*, user) -> QuerySet[Meeting]:
    if user.is_superuser or user.has_perm("governance.view_meeting"):
        return Meeting.objects.select_related("committee")
    return Meeting.objects.filter(committee__memberships__user=user).select_related("committee").distinct()


def meeting_get(*, user, pk) -> Meeting:
    meeting = meeting_list(user=user).filter(pk=pk).first()
    if meeting is None:
        raise Http404("No such meeting.")
    return meeting


def reviews_assigned(*, user) -> QuerySet[ReviewAssignment]:
    return ReviewAssignment.objects.filter(
        reviewer=user, submitted_at__isnull=True, request__status__in=DeploymentRequest.IN_REVIEW_STATES
    ).select_related("request")


def incident_list(*, user) -> QuerySet[IncidentReport]:
    return IncidentReport.objects.filter(request__in=request_list(user=user)).select_related("request", "reporter")


def committee_role_map(*, user) -> dict[int, str]:
    return dict(CommitteeMembership.objects.filter(user=user).values_list("committee_id", "role"))


def home_queues(*, user) -> dict:
    return {"roles": user_roles(user)}
