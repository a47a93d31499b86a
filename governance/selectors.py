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


def irb_queue(*, user) -> dict:
    """An IRB member's work: reviews assigned, votes pending at meetings in session, conflicts to declare,
    and the next meeting's agenda."""
    from django.utils import timezone

    from governance.models import AgendaItem, ConflictDeclaration, Vote

    committees = list(IRBCommittee.objects.filter(memberships__user=user).values_list("id", flat=True))
    recused = set(
        ConflictDeclaration.objects.filter(member=user, has_conflict=True).values_list("request_id", flat=True)
    )
    declared = set(ConflictDeclaration.objects.filter(member=user).values_list("request_id", flat=True))
    in_review = list(
        DeploymentRequest.objects.filter(committee_id__in=committees, status__in=DeploymentRequest.IN_REVIEW_STATES)
        .select_related("ai_system")
        .order_by("submitted_at")
    )
    voted = set(Vote.objects.filter(voter=user, request__in=in_review).values_list("request_id", "round"))
    is_voter = CommitteeMembership.objects.filter(user=user).exclude(role="secretary").exists()
    on_agenda = set(
        AgendaItem.objects.filter(
            meeting__status="in_session",
            meeting__attendance__member=user,
            meeting__attendance__present=True,
            request__in=in_review,
        ).values_list("request_id", flat=True)
    )
    votes_pending = [
        r
        for r in in_review
        if r.pk in on_agenda
        and r.pk not in recused
        and is_voter
        and (r.pk, r.round) not in voted
        and r.status == "full_board_review"
    ]
    next_meeting = (
        Meeting.objects.filter(
            committee_id__in=committees,
            status__in=["scheduled", "in_session"],
            scheduled_for__gte=timezone.now() - timezone.timedelta(hours=12),
        )
        .order_by("scheduled_for")
        .first()
    )
    return {
        "reviews": reviews_assigned(user=user),
        "votes_pending": votes_pending,
        "to_declare": [r for r in in_review if r.pk not in declared],
        "in_review": in_review,
        "next_meeting": next_meeting,
        "agenda": next_meeting.agenda_items.select_related("request__ai_system") if next_meeting else [],
    }


def requester_queue(*, user) -> dict:
    mine = DeploymentRequest.objects.filter(requester=user).select_related("ai_system").order_by("-created_at")
    waiting_on_me = [r for r in mine if r.status in ("draft", "clarification_requested", "modifications_required")]
    in_progress = [r for r in mine if r.status in DeploymentRequest.OPEN_STATES]
    approved = [r for r in mine if r.status in (*DeploymentRequest.APPROVED_STATES, "suspended")]
    return {
        "waiting_on_me": waiting_on_me,
        "in_progress": in_progress,
        "approved": approved,
        "reattest": user.reattestation_requests.filter(completed_at__isnull=True).select_related("ai_system"),
    }


def home_queues(*, user) -> dict:
    from governance.models import Role

    roles = user_roles(user)
    context = {"roles": roles}
    if Role.REQUESTER in roles:
        context["requester"] = requester_queue(user=user)
    if Role.AUDITOR in roles:
        from audits.selectors import auditor_queue

        context["auditor"] = auditor_queue(user=user)
    if Role.IRB_MEMBER in roles:
        context["irb"] = irb_queue(user=user)
    if Role.COMPLIANCE_ADMIN in roles:
        context["compliance"] = True
    return context
