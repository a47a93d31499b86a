"""Who may do what on the governance objects. Services call these guards before changing anything."""

from django.utils.translation import gettext as _

from config.errors import NotPermitted
from governance.models import (
    AuditTeamMembership,
    CommitteeMembership,
    ConflictDeclaration,
    DeploymentRequest,
    Role,
)
from governance.roles import has_role

Manager = (
    CommitteeMembership.CommitteeRole.CHAIR,
    CommitteeMembership.CommitteeRole.VICE_CHAIR,
    CommitteeMembership.CommitteeRole.SECRETARY,
)
Chairs = (CommitteeMembership.CommitteeRole.CHAIR, CommitteeMembership.CommitteeRole.VICE_CHAIR)
# Before review the tier still decides which audits are run and how the request is reviewed.
TIER_OVERRIDE_STATES = (
    DeploymentRequest.Status.DRAFT,
    DeploymentRequest.Status.SUBMITTED,
    DeploymentRequest.Status.SCREENING,
    DeploymentRequest.Status.CLARIFICATION_REQUESTED,
    DeploymentRequest.Status.AUDITING,
    DeploymentRequest.Status.MODIFICATIONS_REQUIRED,
)


def committee_role(user, committee) -> str | None:
    if committee is None or not user.is_authenticated:
        return None
    return CommitteeMembership.objects.filter(committee=committee, user=user).values_list("role", flat=True).first()


def is_recused(user, request: DeploymentRequest) -> bool:
    return ConflictDeclaration.objects.filter(request=request, member=user, has_conflict=True).exists()


def require_requester(user, request: DeploymentRequest) -> None:
    if request.requester_id != user.pk:
        raise NotPermitted(_("Only the requester of %(ref)s may do this.") % {"ref": request.reference})


def require_manager(user, request_or_committee) -> str:
    committee = getattr(request_or_committee, "committee", request_or_committee)
    role = committee_role(user, committee)
    if role not in Manager:
        raise NotPermitted(_("Only the committee's chair, vice-chair or secretary may do this."))
    return role


def require_chair(user, request: DeploymentRequest) -> None:
    if committee_role(user, request.committee) not in Chairs:
        raise NotPermitted(_("Only the committee's chair or vice-chair may do this."))


def require_voting_member(user, request: DeploymentRequest) -> str:
    role = committee_role(user, request.committee)
    if role is None:
        raise NotPermitted(_("Only members of %(committee)s may do this.") % {"committee": request.committee})
    if role == CommitteeMembership.CommitteeRole.SECRETARY:
        raise NotPermitted(_("The secretary does not vote."))
    if is_recused(user, request):
        raise NotPermitted(
            _("You declared a conflict of interest on %(ref)s and are recused.") % {"ref": request.reference}
        )
    return role


def require_team_member(user, team) -> None:
    if team is None or not AuditTeamMembership.objects.filter(team=team, user=user).exists():
        raise NotPermitted(_("Only members of the request's audit team may do this."))


def require_role(user, role: str) -> None:
    if not (has_role(user, role) or user.is_superuser):
        raise NotPermitted(_("This needs the %(role)s role.") % {"role": Role(role).label})


def available_actions(user, request: DeploymentRequest) -> list[str]:
    """The workflow actions this user may take on this request now (for pages and the API)."""
    if not user.is_authenticated:
        return []
    actions = []
    status = request.status
    S = DeploymentRequest.Status
    is_requester = request.requester_id == user.pk
    role = committee_role(user, request.committee)
    manager = role in Manager
    chair = role in Chairs
    recused = role is not None and is_recused(user, request)
    if is_requester:
        if status == S.DRAFT:
            actions += ["edit", "attest", "submit", "withdraw"]
        if status in (S.SUBMITTED, S.SCREENING, S.CLARIFICATION_REQUESTED):
            actions.append("withdraw")
        if status == S.CLARIFICATION_REQUESTED:
            actions.append("respond")
        if status == S.MODIFICATIONS_REQUIRED:
            actions += ["edit", "attest", "resubmit", "withdraw"]
        if status in DeploymentRequest.APPROVED_STATES:
            actions += ["report_incident", "amend", "close"]
        if status == S.SUSPENDED:
            actions.append("report_incident")
    if (is_requester or request.ai_system.owner_id == user.pk) and (
        status in DeploymentRequest.APPROVED_STATES and request.deployed_at is None
    ):
        actions.append("mark_deployed")
    if manager:
        if status == S.SUBMITTED:
            actions.append("screen")
        if status in (S.SCREENING, S.AUDITING):
            actions += ["request_clarification", "start_review"]
        if status == S.SCREENING:
            actions.append("send_to_audit")
        if status in DeploymentRequest.IN_REVIEW_STATES:
            actions.append("assign_reviewer")
        if status == S.FULL_BOARD_REVIEW:
            actions += ["add_to_agenda", "determine"]
        if status == S.EXPEDITED_REVIEW:
            actions.append("refer_to_full_board")
        if status == S.DEFERRED:
            actions.append("reschedule")
        if status in DeploymentRequest.APPROVED_STATES:
            actions += ["suspend", "terminate", "close"]
        if status == S.SUSPENDED:
            actions += ["terminate", "close"]
    if chair:
        if status == S.EXPEDITED_REVIEW:
            actions.append("determine")
        if status == S.CONTINUING_REVIEW_DUE:
            actions.append("renew")
        if status == S.SUSPENDED:
            actions.append("reinstate")
    if (has_role(user, Role.COMPLIANCE_ADMIN) or user.is_superuser) and status in TIER_OVERRIDE_STATES:
        actions.append("override_tier")
    if role is not None and status in DeploymentRequest.IN_REVIEW_STATES:
        actions.append("declare_conflict")
        if not recused and role != CommitteeMembership.CommitteeRole.SECRETARY:
            if status == S.FULL_BOARD_REVIEW:
                actions.append("vote")
            if request.review_assignments.filter(reviewer=user, round=request.round).exists():
                actions.append("review")
                if status == S.EXPEDITED_REVIEW:
                    actions.append("determine")
    return list(dict.fromkeys(actions))
