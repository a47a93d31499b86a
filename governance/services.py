"""Writes for the institution and the deployment-request workflow.

Every service is keyword-only and atomic, locks the request row it changes, checks who may act
(``governance.permissions``) and what the state allows (``DeploymentRequest.TRANSITIONS``), writes
an event in the same transaction and sends notifications only once the transaction commits.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm

from audits.models import Audit
from config.errors import NotPermitted, ServiceError, TransitionNotAllowed
from governance import permissions
from governance.events import record_event
from governance.models import (
    AgendaItem,
    AISystem,
    ApprovalPolicy,
    Attestation,
    AuditTeam,
    AuditTeamMembership,
    ClarificationMessage,
    CommitteeMembership,
    Condition,
    ConflictDeclaration,
    DeploymentRequest,
    Guideline,
    GuidelineClause,
    IncidentReport,
    IRBCommittee,
    Meeting,
    MeetingAttendance,
    Notification,
    PolicyThreshold,
    ReattestationRequest,
    Recommendation,
    RequestAttachment,
    ReviewAssignment,
    RiskTier,
    Role,
    Vote,
)
from governance.policy import approval_expiry, evaluate_request, policy_for

logger = logging.getLogger(__name__)
S = DeploymentRequest.Status
D = DeploymentRequest.Determination


# --- Notifications --------------------------------------------------------------------------------


def notify(users, *, verb: str, message: str, link: str = "") -> None:
    """In-app notifications now (same transaction); e-mails after commit."""
    recipients = {user.pk: user for user in users if user is not None and user.is_active}
    created = Notification.objects.bulk_create(
        [Notification(user=user, verb=verb, message=message[:2000], link=link) for user in recipients.values()]
    )
    ids = [note.pk for note in created]  # PostgreSQL and SQLite both return the new keys

    def send():
        from governance.tasks import send_notification_email_task

        for note_id in ids:
            send_notification_email_task.delay(note_id)

    transaction.on_commit(send)


def notification_send_email(*, notification_id: int) -> None:
    note = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if note is None or not note.user.email:
        return
    link = f"\n\n{settings.MEDGOV_SITE_URL.rstrip('/')}{note.link}" if note.link else ""
    send_mail(f"[MedGov] {note.message[:80]}", note.message + link, settings.DEFAULT_FROM_EMAIL, [note.user.email])


def _request_link(request: DeploymentRequest) -> str:
    return reverse("governance:request-detail", args=[request.pk])


def committee_managers(committee) -> list:
    return [m.user for m in committee.memberships.filter(role__in=permissions.Manager).select_related("user")]


def committee_members(committee) -> list:
    return [m.user for m in committee.memberships.select_related("user")]


# --- Institution ----------------------------------------------------------------------------------


def derive_risk_tier(
    *, patient_facing: bool, identifiable_data: bool, clinical_decisions: bool, vendor_cloud: bool
) -> str:
    """Intake answers → risk tier. High: the model reaches patients and influences care, or sends
    identifiable data to a vendor's cloud while facing patients. Medium: any one of those exposures."""
    if (clinical_decisions and patient_facing) or (identifiable_data and vendor_cloud and patient_facing):
        return RiskTier.HIGH
    if clinical_decisions or patient_facing or identifiable_data:
        return RiskTier.MEDIUM
    return RiskTier.LOW


@transaction.atomic
def audit_team_create(*, name: str, members=(), description: str = "", by=None) -> AuditTeam:
    group = Group.objects.create(name=f"team:{name}")
    team = AuditTeam.objects.create(name=name, description=description, group=group)
    for user, role in members:
        audit_team_add_member(team=team, user=user, role=role)
    record_event(actor=by, verb="team.created", target=team, data={"name": name})
    return team


def audit_team_add_member(*, team: AuditTeam, user, role: str) -> AuditTeamMembership:
    membership, _created = AuditTeamMembership.objects.update_or_create(team=team, user=user, defaults={"role": role})
    user.groups.add(team.group, Group.objects.get(name=Role.AUDITOR))
    return membership


@transaction.atomic
def committee_create(*, name: str, members=(), is_default: bool = False, by=None) -> IRBCommittee:
    group = Group.objects.create(name=f"committee:{name}")
    if is_default:
        IRBCommittee.objects.filter(is_default=True).update(is_default=False)
    committee = IRBCommittee.objects.create(name=name, group=group, is_default=is_default)
    for user, role in members:
        committee_add_member(committee=committee, user=user, role=role)
    record_event(actor=by, verb="committee.created", target=committee, data={"name": name})
    return committee


def committee_add_member(*, committee: IRBCommittee, user, role: str) -> CommitteeMembership:
    membership, _created = CommitteeMembership.objects.update_or_create(
        committee=committee, user=user, defaults={"role": role}
    )
    user.groups.add(committee.group, Group.objects.get(name=Role.IRB_MEMBER))
    return membership


@transaction.atomic
def ai_system_register(*, by, **fields) -> AISystem:
    system = AISystem(owner=fields.pop("owner", by), **fields)
    system.risk_tier = derive_risk_tier(
        patient_facing=system.patient_facing,
        identifiable_data=system.processes_identifiable_data,
        clinical_decisions=system.influences_clinical_decisions,
        vendor_cloud=system.hosting == AISystem.Hosting.VENDOR_CLOUD,
    )
    system.full_clean()
    system.save()
    for action in ("view", "change"):
        assign_perm(f"governance.{action}_aisystem", system.owner, system)
    record_event(
        actor=by, verb="system.registered", target=system, data={"name": system.name, "tier": system.risk_tier}
    )
    return system


def _tier_override_reason(tier: str, reason: str) -> str:
    if tier not in RiskTier.values:
        raise ServiceError(_("Unknown risk tier: %(tier)s") % {"tier": tier})
    if not reason.strip():
        raise ServiceError(_("Overriding the risk tier needs a reason."))
    return reason.strip()


@transaction.atomic
def ai_system_override_tier(*, system: AISystem, tier: str, reason: str, by) -> AISystem:
    permissions.require_role(by, Role.COMPLIANCE_ADMIN)
    reason = _tier_override_reason(tier, reason)
    previous = system.risk_tier
    system.risk_tier, system.risk_tier_override_reason = tier, reason
    system.save(update_fields=["risk_tier", "risk_tier_override_reason"])
    record_event(
        actor=by, verb="system.tier_overridden", target=system, data={"from": previous, "to": tier, "reason": reason}
    )
    return system


def _derived_system_status(system: AISystem) -> str:
    """A system's status follows from its deployment requests, first match wins: deployed (an approval
    in force that is in clinical use), suspended, approved (in force, not in use yet); once no approval
    is in force, retired if the last one was terminated or closed, else proposed (expired, or never
    approved: a new request can approve it)."""
    requests = DeploymentRequest.objects.filter(ai_system=system)
    approved = requests.filter(status__in=DeploymentRequest.APPROVED_STATES)
    if approved.filter(deployed_at__isnull=False).exists():
        return AISystem.Status.DEPLOYED
    if requests.filter(status=S.SUSPENDED).exists():
        return AISystem.Status.SUSPENDED
    if approved.exists():
        return AISystem.Status.APPROVED
    last_ended = (
        requests.filter(approved_at__isnull=False, status__in=[S.EXPIRED, S.TERMINATED, S.CLOSED])
        .order_by("-status_changed_at", "-pk")
        .first()
    )
    if last_ended is not None and last_ended.status in (S.TERMINATED, S.CLOSED):
        return AISystem.Status.RETIRED
    return AISystem.Status.PROPOSED


def ai_system_sync_status(*, system: AISystem, by, request: DeploymentRequest, reason: str = "") -> AISystem:
    """Bring the system's status in line with its requests after ``request`` changed; call inside the
    transaction that changed it. The system row is locked so two requests of one system agree."""
    system = AISystem.objects.select_for_update().get(pk=system.pk)
    status = _derived_system_status(system)
    if status != system.status:
        previous, system.status = system.status, status
        system.save(update_fields=["status"])
        record_event(
            actor=by,
            verb="system.status_changed",
            target=system,
            request=request,
            data={"from": previous, "to": status, "request": request.reference, "reason": reason},
        )
    return system


# --- Guidelines and attestations ------------------------------------------------------------------


def current_guideline(code: str = "data-ethics") -> Guideline | None:
    return Guideline.objects.filter(code=code, status=Guideline.Status.EFFECTIVE).prefetch_related("clauses").first()


@transaction.atomic
def guideline_publish(*, guideline: Guideline, by) -> Guideline:
    """Make a draft version effective; the one it supersedes stops being effective and the owners of
    approved or deployed systems are asked to attest the new version."""
    permissions.require_role(by, Role.COMPLIANCE_ADMIN)
    guideline = Guideline.objects.select_for_update().get(pk=guideline.pk)
    if guideline.status != Guideline.Status.DRAFT:
        raise TransitionNotAllowed(_("Only a draft guideline can be published."))
    if not guideline.clauses.exists():
        raise ServiceError(_("A guideline needs at least one clause."))
    newer = (
        Guideline.objects.filter(code=guideline.code, version__gt=guideline.version)
        .exclude(status=Guideline.Status.DRAFT)
        .order_by("-version")
        .first()
    )
    if newer:
        raise TransitionNotAllowed(
            _("Version %(newer)s of this guideline has already been published; an older draft cannot replace it.")
            % {"newer": newer.version}
        )
    previous = (
        Guideline.objects.select_for_update().filter(code=guideline.code, status=Guideline.Status.EFFECTIVE).first()
    )
    if previous:
        previous.status = Guideline.Status.SUPERSEDED
        previous.save(update_fields=["status"])
        guideline.supersedes = previous
    guideline.status = Guideline.Status.EFFECTIVE
    guideline.published_at = timezone.now()
    guideline.save(update_fields=["status", "published_at", "supersedes"])
    record_event(
        actor=by,
        verb="guideline.published",
        target=guideline,
        data={"code": guideline.code, "version": guideline.version},
    )
    if previous:
        systems = AISystem.objects.filter(
            status__in=[AISystem.Status.APPROVED, AISystem.Status.DEPLOYED]
        ).select_related("owner")
        for system in systems:
            ReattestationRequest.objects.get_or_create(
                ai_system=system, guideline=guideline, defaults={"user": system.owner}
            )
            notify(
                [system.owner],
                verb="guideline.reattest",
                link=reverse("governance:system-detail", args=[system.pk]),
                message=_("Guideline “%(title)s” v%(version)d is in force: please attest it again for %(system)s.")
                % {"title": guideline.title, "version": guideline.version, "system": system.name},
            )
    return guideline


GUIDELINE_FIELDS = ("title_en", "title_zh", "body_en", "body_zh", "effective_date")


def _require_known_fields(fields: dict, allowed) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ServiceError(f"unknown fields: {', '.join(sorted(unknown))}")


@dataclass
class ClauseSpec:
    number: str
    topic: str
    text_en: str
    text_zh: str = ""


def _clauses_replace(guideline: Guideline, clauses: list[ClauseSpec]) -> None:
    numbers = [str(clause.number).strip() for clause in clauses]
    if any(not number for number in numbers) or len(set(numbers)) != len(numbers):
        raise ServiceError(_("Each clause needs its own number."))
    for clause in clauses:
        if clause.topic not in GuidelineClause.Topic.values:
            raise ServiceError(_("Unknown clause topic: %(topic)s") % {"topic": clause.topic})
        if not clause.text_en.strip():
            raise ServiceError(_("Clause §%(number)s needs its text.") % {"number": clause.number})
    guideline.clauses.all().delete()
    GuidelineClause.objects.bulk_create(
        [
            GuidelineClause(
                guideline=guideline,
                number=number,
                position=position,
                topic=clause.topic,
                text_en=clause.text_en.strip(),
                text_zh=clause.text_zh.strip(),
            )
            for position, (number, clause) in enumerate(zip(numbers, clauses, strict=True), start=1)
        ]
    )


def _guideline_clause_numbers(guideline: Guideline) -> list[str]:
    return list(guideline.clauses.values_list("number", flat=True))


@transaction.atomic
def guideline_create(*, by, code: str, version: int | None = None, clauses=(), **fields) -> Guideline:
    """A draft version of a guideline. Versions of one code only go up: a draft numbered below the
    latest version would supersede a newer text when published."""
    permissions.require_role(by, Role.COMPLIANCE_ADMIN)
    _require_known_fields(fields, GUIDELINE_FIELDS)
    latest = Guideline.objects.select_for_update().filter(code=code).order_by("-version").first()
    highest = latest.version if latest else 0
    version = version or highest + 1
    if version <= highest:
        raise ServiceError(
            _("Guideline %(code)s is at v%(latest)d already: number the new version above it.")
            % {"code": code, "latest": highest}
        )
    guideline = Guideline(code=code, version=version, status=Guideline.Status.DRAFT, **fields)
    guideline.full_clean()
    guideline.save()
    _clauses_replace(guideline, [ClauseSpec(**clause) for clause in clauses])
    record_event(
        actor=by,
        verb="guideline.created",
        target=guideline,
        data={"code": code, "version": version, "clauses": _guideline_clause_numbers(guideline)},
    )
    return guideline


def _require_draft(guideline: Guideline) -> None:
    if guideline.status != Guideline.Status.DRAFT:
        raise TransitionNotAllowed(
            _(
                "“%(title)s” v%(version)d is %(status)s: its text and clauses no longer change. "
                "Start a new version, edit it and publish it."
            )
            % {"title": guideline.title, "version": guideline.version, "status": guideline.get_status_display()}
        )


@transaction.atomic
def guideline_update(*, guideline: Guideline, by, clauses=None, **fields) -> Guideline:
    """Edit a draft; ``clauses`` (when given) replaces all of its clauses."""
    permissions.require_role(by, Role.COMPLIANCE_ADMIN)
    guideline = Guideline.objects.select_for_update().get(pk=guideline.pk)
    _require_draft(guideline)
    _require_known_fields(fields, GUIDELINE_FIELDS)
    changed = sorted(name for name, value in fields.items() if getattr(guideline, name) != value)
    for name, value in fields.items():
        setattr(guideline, name, value)
    guideline.full_clean()
    guideline.save()
    if clauses is not None:
        _clauses_replace(guideline, [ClauseSpec(**clause) for clause in clauses])
        changed.append("clauses")
    record_event(
        actor=by,
        verb="guideline.edited",
        target=guideline,
        data={"version": guideline.version, "fields": changed, "clauses": _guideline_clause_numbers(guideline)},
    )
    return guideline


@transaction.atomic
def guideline_new_version(*, guideline: Guideline, by) -> Guideline:
    """Start the next version of a published guideline as a draft copy of its text and clauses."""
    permissions.require_role(by, Role.COMPLIANCE_ADMIN)
    guideline = Guideline.objects.get(pk=guideline.pk)
    if guideline.status == Guideline.Status.DRAFT:
        raise TransitionNotAllowed(_("This version is still a draft: edit it directly."))
    if Guideline.objects.filter(code=guideline.code, status=Guideline.Status.DRAFT).exists():
        raise TransitionNotAllowed(
            _("A draft of %(code)s is already being prepared: edit it instead.") % {"code": guideline.code}
        )
    return guideline_create(
        by=by,
        code=guideline.code,
        clauses=[
            {"number": c.number, "topic": c.topic, "text_en": c.text_en, "text_zh": c.text_zh}
            for c in guideline.clauses.all()
        ],
        **{name: getattr(guideline, name) for name in GUIDELINE_FIELDS},
    )


def missing_attestations(request: DeploymentRequest) -> list[GuidelineClause]:
    guideline = current_guideline()
    if guideline is None:
        return []
    attested = set(
        Attestation.objects.filter(deployment_request=request, user=request.requester, guideline=guideline).values_list(
            "clause_id", flat=True
        )
    )
    return [clause for clause in guideline.clauses.all() if clause.pk not in attested]


@transaction.atomic
def request_attest(*, request: DeploymentRequest, by, clause_ids: list[int]) -> int:
    """The requester attests clauses of the guideline version in force; returns how many are new."""
    permissions.require_requester(by, request)
    guideline = current_guideline()
    if guideline is None:
        raise ServiceError(_("No data-ethics guideline is in force."))
    clauses = list(guideline.clauses.filter(pk__in=clause_ids))
    if len(clauses) != len(set(clause_ids)):
        raise ServiceError(_("Attest clauses of the guideline version in force (v%(v)d).") % {"v": guideline.version})
    new = 0
    for clause in clauses:
        _attestation, created = Attestation.objects.get_or_create(
            user=by, clause=clause, deployment_request=request, defaults={"guideline": guideline}
        )
        new += created
    if new:
        record_event(
            actor=by,
            verb="request.attested",
            target=request,
            request=request,
            data={
                "guideline": guideline.code,
                "version": guideline.version,
                "clauses": sorted(c.number for c in clauses),
            },
        )
    return new


@transaction.atomic
def system_reattest(*, system: AISystem, by) -> AISystem:
    """A deployed system's owner attests every clause of the guideline in force."""
    if system.owner_id != by.pk:
        raise NotPermitted(_("Only the system's owner attests for it."))
    guideline = current_guideline()
    if guideline is None:
        raise ServiceError(_("No data-ethics guideline is in force."))
    for clause in guideline.clauses.all():
        Attestation.objects.get_or_create(user=by, clause=clause, ai_system=system, defaults={"guideline": guideline})
    ReattestationRequest.objects.filter(ai_system=system, guideline=guideline).update(completed_at=timezone.now())
    record_event(actor=by, verb="system.attested", target=system, data={"version": guideline.version})
    return system


# --- Approval policies ----------------------------------------------------------------------------

POLICY_FIELDS = (
    "name",
    "required_suite",
    "required_scenario_suite",
    "max_refusal_rate",
    "max_error_rate",
    "max_audit_age_days",
    "approval_months",
    "allow_expedited",
)


@dataclass
class ThresholdSpec:
    scope: str
    min_lower_bound: float
    target: str = ""
    source: str = PolicyThreshold.Source.BENCHMARK


def _thresholds_validate(policy: ApprovalPolicy, thresholds: list[ThresholdSpec]) -> None:
    from benchmark.models import Category, Dimension

    Scope = PolicyThreshold.Scope
    seen = set()
    for spec in thresholds:
        if spec.source not in PolicyThreshold.Source.values or spec.scope not in Scope.values:
            raise ServiceError(_("A threshold needs a known source and scope."))
        if not 0 <= spec.min_lower_bound <= 1:
            raise ServiceError(_("A threshold is between 0 and 1."))
        if spec.scope == Scope.OVERALL and spec.target:
            raise ServiceError(_("An overall threshold has no target."))
        if spec.scope in (Scope.CATEGORY, Scope.EACH_DIMENSION_IN_CATEGORY) and spec.target not in Category.values:
            raise ServiceError(
                _("“%(target)s” is not a category (%(choices)s).")
                % {"target": spec.target, "choices": ", ".join(Category.values)}
            )
        if spec.scope == Scope.DIMENSION and not Dimension.objects.filter(code=spec.target).exists():
            raise ServiceError(_("Unknown dimension %(code)s in a threshold.") % {"code": spec.target})
        if spec.source == PolicyThreshold.Source.SIMULATION and policy.required_scenario_suite_id is None:
            raise ServiceError(_("Safety-simulation thresholds need a required scenario suite on the policy."))
        key = (spec.source, spec.scope, spec.target)
        if key in seen:
            raise ServiceError(
                _("Two thresholds for %(scope)s %(target)s.") % {"scope": spec.scope, "target": spec.target}
            )
        seen.add(key)


def _thresholds_replace(policy: ApprovalPolicy, thresholds: list[ThresholdSpec]) -> None:
    _thresholds_validate(policy, thresholds)
    policy.thresholds.all().delete()
    PolicyThreshold.objects.bulk_create(
        [
            PolicyThreshold(
                policy=policy,
                source=spec.source,
                scope=spec.scope,
                target=spec.target,
                min_lower_bound=spec.min_lower_bound,
            )
            for spec in thresholds
        ]
    )


def _policy_record(policy: ApprovalPolicy) -> dict:
    return {
        "tier": policy.risk_tier,
        "approval_months": policy.approval_months,
        "thresholds": [
            f"{t.source}:{t.scope}:{t.target}>={t.min_lower_bound}"
            for t in policy.thresholds.order_by("source", "scope", "target")
        ],
    }


@transaction.atomic
def approval_policy_create(*, by, risk_tier: str, thresholds=(), **fields) -> ApprovalPolicy:
    """The evidence an approval of one risk tier needs; without ``approval_months`` the tier's default."""
    permissions.require_role(by, Role.COMPLIANCE_ADMIN)
    _require_known_fields(fields, POLICY_FIELDS)
    if ApprovalPolicy.objects.filter(risk_tier=risk_tier).exists():
        raise ServiceError(_("The %(tier)s tier has a policy already: edit it.") % {"tier": risk_tier})
    policy = ApprovalPolicy(risk_tier=risk_tier, **fields)
    policy.full_clean(exclude=["approval_months"])
    policy.save()
    _thresholds_replace(policy, [ThresholdSpec(**spec) for spec in thresholds])
    record_event(actor=by, verb="policy.created", target=policy, data=_policy_record(policy))
    return policy


@transaction.atomic
def approval_policy_update(*, policy: ApprovalPolicy, by, thresholds=None, **fields) -> ApprovalPolicy:
    """Edit a policy; ``thresholds`` (when given) replaces all of them. ``approval_months`` None means the
    tier's default. Requests are evaluated against the policy as it is when the committee decides."""
    permissions.require_role(by, Role.COMPLIANCE_ADMIN)
    policy = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
    _require_known_fields(fields, POLICY_FIELDS)
    before = _policy_record(policy)
    changed = sorted(name for name, value in fields.items() if getattr(policy, name) != value)
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.full_clean(exclude=["approval_months"])
    policy.save()
    current = list(policy.thresholds.all())
    specs = (
        [ThresholdSpec(**spec) for spec in thresholds]
        if thresholds is not None
        else [ThresholdSpec(t.scope, t.min_lower_bound, t.target, t.source) for t in current]
    )
    # Re-checked even when only the fields changed: dropping the scenario suite strands simulation thresholds.
    _thresholds_replace(policy, specs)
    record_event(
        actor=by,
        verb="policy.edited",
        target=policy,
        data={"fields": changed, "before": before, "after": _policy_record(policy)},
    )
    return policy


# --- Deployment requests: intake ------------------------------------------------------------------

INTAKE_FIELDS = (
    "title",
    "intended_use",
    "intended_users",
    "patient_population",
    "oversight_plan",
    "data_flows",
    "fallback_plan",
    "patient_facing",
    "processes_identifiable_data",
    "influences_clinical_decisions",
    "vendor_cloud",
)
REQUIRED_FOR_SUBMISSION = (
    "title",
    "intended_use",
    "intended_users",
    "patient_population",
    "oversight_plan",
    "data_flows",
    "fallback_plan",
)


def _apply_tier(request: DeploymentRequest) -> None:
    if not request.risk_tier_override_reason:
        request.risk_tier = derive_risk_tier(
            patient_facing=request.patient_facing,
            identifiable_data=request.processes_identifiable_data,
            clinical_decisions=request.influences_clinical_decisions,
            vendor_cloud=request.vendor_cloud,
        )


@transaction.atomic
def request_create(
    *,
    by,
    ai_system: AISystem,
    endpoints=(),
    kind: str = DeploymentRequest.Kind.INITIAL,
    amendment_kind: str = "",
    parent: DeploymentRequest | None = None,
    **fields,
) -> DeploymentRequest:
    permissions.require_role(by, Role.REQUESTER)
    _require_known_fields(fields, INTAKE_FIELDS)
    request = DeploymentRequest(
        reference=f"tmp-{uuid.uuid4().hex[:16]}",
        requester=by,
        ai_system=ai_system,
        kind=kind,
        amendment_kind=amendment_kind,
        parent=parent,
        vendor_cloud=fields.pop("vendor_cloud", ai_system.hosting == AISystem.Hosting.VENDOR_CLOUD),
        **fields,
    )
    _apply_tier(request)
    request.save()
    request.reference = f"DR-{timezone.localtime().year}-{request.pk:04d}"
    request.save(update_fields=["reference"])
    if endpoints:
        request.endpoints.set(endpoints)
    for action in ("view", "change"):
        assign_perm(f"governance.{action}_deploymentrequest", by, request)
    record_event(
        actor=by,
        verb="request.created",
        target=request,
        request=request,
        data={
            "reference": request.reference,
            "kind": kind,
            "amendment_kind": amendment_kind,
            "tier": request.risk_tier,
        },
    )
    return request


@transaction.atomic
def request_update(*, request: DeploymentRequest, by, endpoints=None, **fields) -> DeploymentRequest:
    request = DeploymentRequest.objects.select_for_update().get(pk=request.pk)
    permissions.require_requester(by, request)
    if request.status not in (S.DRAFT, S.MODIFICATIONS_REQUIRED):
        raise TransitionNotAllowed(_("Only a draft, or a request returned for modifications, can be edited."))
    _require_known_fields(fields, INTAKE_FIELDS)
    changed = {name: value for name, value in fields.items() if getattr(request, name) != value}
    for name, value in changed.items():
        setattr(request, name, value)
    _apply_tier(request)
    request.save()
    if endpoints is not None:
        request.endpoints.set(endpoints)
    if changed or endpoints is not None:
        record_event(
            actor=by,
            verb="request.edited",
            target=request,
            request=request,
            data={"fields": sorted(changed), "tier": request.risk_tier},
        )
    return request


@transaction.atomic
def request_override_tier(*, request: DeploymentRequest, tier: str, reason: str, by) -> DeploymentRequest:
    """Set the request's risk tier by hand (compliance administrators), with the reason on the record;
    later intake edits no longer re-derive it."""
    permissions.require_role(by, Role.COMPLIANCE_ADMIN)
    reason = _tier_override_reason(tier, reason)
    request = _lock(request)
    if request.status not in permissions.TIER_OVERRIDE_STATES:
        raise TransitionNotAllowed(
            _("The risk tier of %(ref)s is fixed once review has started (it is %(status)s).")
            % {"ref": request.reference, "status": request.get_status_display()}
        )
    previous = request.risk_tier
    request.risk_tier, request.risk_tier_override_reason = tier, reason
    request.save(update_fields=["risk_tier", "risk_tier_override_reason"])
    record_event(
        actor=by,
        verb="request.tier_overridden",
        target=request,
        request=request,
        data={"from": previous, "to": tier, "reason": reason},
    )
    recipients = [request.requester, *(committee_managers(request.committee) if request.committee else [])]
    notify(
        recipients,
        verb="request.tier_overridden",
        link=_request_link(request),
        message=_("The risk tier of %(ref)s is now %(tier)s: %(reason)s")
        % {"ref": request.reference, "tier": RiskTier(tier).label, "reason": reason},
    )
    return request


ATTACHMENT_TYPES = {
    "application/pdf": b"%PDF",
    "text/plain": None,
    "text/markdown": None,
    "image/png": b"\x89PNG",
    "image/jpeg": b"\xff\xd8\xff",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": b"PK\x03\x04",
}


@transaction.atomic
def request_attach(*, request: DeploymentRequest, by, upload, kind: str) -> RequestAttachment:
    """Store an attachment under a random name after checking its size and that its bytes match its type."""
    request = DeploymentRequest.objects.select_for_update().get(pk=request.pk)
    permissions.require_requester(by, request)
    if request.status not in (S.DRAFT, S.MODIFICATIONS_REQUIRED, S.CLARIFICATION_REQUESTED):
        raise TransitionNotAllowed(_("Attachments can be added while drafting or answering questions."))
    if upload.size > settings.MEDGOV_MAX_ATTACHMENT_BYTES:
        raise ServiceError(
            _("The file is larger than %(mb)d MB.") % {"mb": settings.MEDGOV_MAX_ATTACHMENT_BYTES // 2**20}
        )
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if content_type not in ATTACHMENT_TYPES:
        raise ServiceError(_("Attach PDF, Word, text or image files."))
    head = upload.read(8)
    upload.seek(0)
    magic = ATTACHMENT_TYPES[content_type]
    if magic is not None and not head.startswith(magic):
        raise ServiceError(_("The file's content does not match its type %(type)s.") % {"type": content_type})
    if magic is None:
        sample = upload.read(4096)
        upload.seek(0)
        if b"\x00" in sample:
            raise ServiceError(_("A text file must not contain binary data."))
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    name = "".join(ch for ch in (upload.name or "file").rsplit("/", 1)[-1].rsplit("\\", 1)[-1] if ch.isprintable())[
        :200
    ]
    attachment = RequestAttachment(
        request=request,
        kind=kind,
        original_name=name or "file",
        content_type=content_type,
        size=upload.size,
        sha256=digest.hexdigest(),
        uploaded_by=by,
    )
    attachment.file.save("upload", upload, save=False)
    attachment.save()
    record_event(
        actor=by,
        verb="request.attachment_added",
        target=request,
        request=request,
        data={"name": attachment.original_name, "sha256": attachment.sha256, "kind": kind},
    )
    return attachment


def _lock(request: DeploymentRequest) -> DeploymentRequest:
    return (
        DeploymentRequest.objects.select_for_update(of=("self",))
        .select_related("committee", "ai_system", "requester")
        .get(pk=request.pk)
    )


@transaction.atomic
def request_submit(*, request: DeploymentRequest, by) -> DeploymentRequest:
    request = _lock(request)
    permissions.require_requester(by, request)
    return _submit(request, by, resubmission=False)


@transaction.atomic
def request_resubmit(*, request: DeploymentRequest, by) -> DeploymentRequest:
    request = _lock(request)
    permissions.require_requester(by, request)
    if request.status != S.MODIFICATIONS_REQUIRED:
        raise TransitionNotAllowed(_("Only a request returned for modifications can be resubmitted."))
    return _submit(request, by, resubmission=True)


def _submit(request: DeploymentRequest, by, *, resubmission: bool) -> DeploymentRequest:
    missing_fields = [name for name in REQUIRED_FOR_SUBMISSION if not str(getattr(request, name)).strip()]
    if missing_fields:
        labels = ", ".join(str(DeploymentRequest._meta.get_field(name).verbose_name) for name in missing_fields)
        raise ServiceError(
            _("Complete the intake before submitting: %(fields)s.") % {"fields": labels}, code="incomplete"
        )
    if not request.endpoints.exists():
        raise ServiceError(_("Name at least one model endpoint to be audited."), code="incomplete")
    guideline = current_guideline()
    if guideline is None:
        raise ServiceError(_("No data-ethics guideline is in force; the compliance office must publish one."))
    missing = missing_attestations(request)
    if missing:
        raise ServiceError(
            _("Attest every clause of “%(title)s” v%(version)d before submitting; missing: %(clauses)s.")
            % {
                "title": guideline.title,
                "version": guideline.version,
                "clauses": ", ".join(f"§{c.number}" for c in missing),
            },
            code="attestation_missing",
        )
    committee = request.committee or IRBCommittee.objects.filter(is_default=True).first()
    if committee is None:
        raise ServiceError(_("No IRB committee receives requests yet."))
    if resubmission:
        request.round += 1
        request.determination = ""
        request.review_type = ""
    request.committee = committee
    request.guideline = guideline
    request.submitted_at = timezone.now()
    request.transition(to=S.SUBMITTED, by=by, data={"round": request.round, "resubmission": resubmission})
    assign_perm("governance.view_deploymentrequest", committee.group, request)
    notify(
        committee_managers(committee),
        verb="request.submitted",
        link=_request_link(request),
        message=_("%(ref)s “%(title)s” was %(what)s.")
        % {
            "ref": request.reference,
            "title": request.title,
            "what": _("resubmitted") if resubmission else _("submitted"),
        },
    )
    return request


@transaction.atomic
def request_withdraw(*, request: DeploymentRequest, by, reason: str = "") -> DeploymentRequest:
    request = _lock(request)
    permissions.require_requester(by, request)
    request.transition(to=S.WITHDRAWN, by=by, reason=reason)
    return request


# --- Screening and clarification ------------------------------------------------------------------


@transaction.atomic
def request_screen(*, request: DeploymentRequest, by) -> DeploymentRequest:
    request = _lock(request)
    permissions.require_manager(by, request)
    request.transition(to=S.SCREENING, by=by)
    return request


@transaction.atomic
def request_clarify(*, request: DeploymentRequest, by, question: str) -> DeploymentRequest:
    request = _lock(request)
    permissions.require_manager(by, request)
    if not question.strip():
        raise ServiceError(_("Write the question for the requester."))
    request.transition(to=S.CLARIFICATION_REQUESTED, by=by, reason=question)
    ClarificationMessage.objects.create(
        request=request, author=by, kind=ClarificationMessage.Kind.QUESTION, body=question
    )
    notify(
        [request.requester],
        verb="request.clarification",
        link=_request_link(request),
        message=_("The committee asks a question about %(ref)s: %(q)s") % {"ref": request.reference, "q": question},
    )
    return request


@transaction.atomic
def request_respond(*, request: DeploymentRequest, by, answer: str) -> DeploymentRequest:
    request = _lock(request)
    permissions.require_requester(by, request)
    if not answer.strip():
        raise ServiceError(_("Write your answer to the committee."))
    request.transition(to=S.SCREENING, by=by, reason=answer)
    ClarificationMessage.objects.create(
        request=request, author=by, kind=ClarificationMessage.Kind.RESPONSE, body=answer
    )
    notify(
        committee_managers(request.committee),
        verb="request.responded",
        link=_request_link(request),
        message=_("%(ref)s: the requester answered the committee's question.") % {"ref": request.reference},
    )
    return request


# --- Auditing -------------------------------------------------------------------------------------


@transaction.atomic
def request_send_to_audit(*, request: DeploymentRequest, by, team: AuditTeam) -> list[Audit]:
    """Ask the audit team to run the audits the policy requires: one scheduled audit per endpoint."""
    request = _lock(request)
    permissions.require_manager(by, request)
    policy = policy_for(request)
    if policy is None:
        raise ServiceError(
            _("No approval policy covers the %(tier)s risk tier.") % {"tier": request.get_risk_tier_display()}
        )
    from audits.services import audit_create

    suites = [("benchmark_version", policy.required_suite)]
    if policy.required_scenario_suite_id:
        suites.append(("scenario_version", policy.required_scenario_suite))
    audits = []
    for endpoint in request.endpoints.all():
        for field_name, suite in suites:
            version = suite.latest_published_version()
            if version is None:
                raise ServiceError(_("Suite %(suite)s has no published version.") % {"suite": suite.name})
            audits.append(
                audit_create(
                    endpoint=endpoint, requested_by=by, deployment_request=request, team=team, **{field_name: version}
                )
            )
    request.audit_team = team
    request.transition(to=S.AUDITING, by=by, data={"team": team.name, "audits": [audit.pk for audit in audits]})
    assign_perm("governance.view_deploymentrequest", team.group, request)
    for endpoint in request.endpoints.all():
        for action in ("view", "change"):
            assign_perm(f"audits.{action}_modelendpoint", team.group, endpoint)
    members = [m.user for m in team.memberships.select_related("user")]
    notify(
        members,
        verb="request.audit_requested",
        link=reverse("audits:audit-list"),
        message=_("%(ref)s needs %(n)d audit(s) before review.") % {"ref": request.reference, "n": len(audits)},
    )
    return audits


def _required_audits_done(request: DeploymentRequest) -> bool:
    audits = Audit.objects.filter(deployment_request=request)
    return audits.exists() and not audits.exclude(status__in=Audit.TERMINAL).exists()


def on_audit_finished(*, audit_id: int) -> None:
    """After an audit ends: move its request on from auditing, and check approvals it is evidence for."""
    audit = Audit.objects.select_related("deployment_request", "endpoint").get(pk=audit_id)
    request = audit.deployment_request
    if request is not None and request.status == S.AUDITING and _required_audits_done(request):
        with transaction.atomic():
            locked = _lock(request)
            if locked.status == S.AUDITING and _required_audits_done(locked):
                _start_review(locked, by=None, review_type=None)
    if audit.status in Audit.FINISHED_WITH_SCORES:
        conditions_check_audit(audit=audit)


def _default_review_type(request: DeploymentRequest) -> str:
    policy = policy_for(request)
    if request.risk_tier == RiskTier.HIGH or (policy and not policy.allow_expedited):
        return DeploymentRequest.ReviewType.FULL_BOARD
    return DeploymentRequest.ReviewType.EXPEDITED


def _start_review(request: DeploymentRequest, *, by, review_type: str | None) -> DeploymentRequest:
    review_type = review_type or _default_review_type(request)
    policy = policy_for(request)
    if review_type == DeploymentRequest.ReviewType.EXPEDITED and (
        request.risk_tier == RiskTier.HIGH or (policy and not policy.allow_expedited)
    ):
        raise ServiceError(
            _("A %(tier)s-risk request needs full-board review.") % {"tier": request.get_risk_tier_display()}
        )
    request.review_type = review_type
    target = S.EXPEDITED_REVIEW if review_type == DeploymentRequest.ReviewType.EXPEDITED else S.FULL_BOARD_REVIEW
    request.transition(to=target, by=by, data={"review_type": review_type})
    notify(
        committee_managers(request.committee),
        verb="request.review_ready",
        link=_request_link(request),
        message=_("%(ref)s is ready for %(type)s review.")
        % {"ref": request.reference, "type": request.get_review_type_display()},
    )
    return request


@transaction.atomic
def request_start_review(*, request: DeploymentRequest, by, review_type: str) -> DeploymentRequest:
    request = _lock(request)
    permissions.require_manager(by, request)
    if review_type not in DeploymentRequest.ReviewType.values:
        raise ServiceError(_("Choose expedited or full-board review."))
    return _start_review(request, by=by, review_type=review_type)


@transaction.atomic
def request_refer_to_full_board(*, request: DeploymentRequest, by, reason: str = "") -> DeploymentRequest:
    request = _lock(request)
    role = permissions.committee_role(by, request.committee)
    assigned = request.review_assignments.filter(reviewer=by, round=request.round).exists()
    if role not in permissions.Manager and not assigned:
        raise NotPermitted(_("Only the committee's officers or the assigned reviewer may refer a request."))
    request.review_type = DeploymentRequest.ReviewType.FULL_BOARD
    request.transition(to=S.FULL_BOARD_REVIEW, by=by, reason=reason)
    return request


# --- Review, conflicts, meetings and votes --------------------------------------------------------


@transaction.atomic
def conflict_declare(*, request: DeploymentRequest, by, has_conflict: bool, reason: str = "") -> ConflictDeclaration:
    request = _lock(request)
    if permissions.committee_role(by, request.committee) is None:
        raise NotPermitted(
            _("Only members of %(committee)s declare conflicts on its requests.") % {"committee": request.committee}
        )
    if has_conflict and not reason.strip():
        raise ServiceError(_("Describe the conflict of interest."))
    declaration, _created = ConflictDeclaration.objects.update_or_create(
        request=request,
        member=by,
        defaults={"has_conflict": has_conflict, "reason": reason, "declared_at": timezone.now()},
    )
    if has_conflict:
        # A recused member neither reviews nor votes; an open assignment is withdrawn.
        request.review_assignments.filter(reviewer=by, round=request.round, submitted_at__isnull=True).delete()
    record_event(
        actor=by,
        verb="request.conflict_declared",
        target=request,
        request=request,
        data={"member": by.pk, "has_conflict": has_conflict, "recused": has_conflict},
    )
    return declaration


@transaction.atomic
def request_assign_reviewer(*, request: DeploymentRequest, by, reviewer) -> ReviewAssignment:
    request = _lock(request)
    permissions.require_manager(by, request)
    if request.status not in DeploymentRequest.IN_REVIEW_STATES:
        raise TransitionNotAllowed(_("Reviewers are assigned once review has started."))
    role = permissions.committee_role(reviewer, request.committee)
    if role is None or role == CommitteeMembership.CommitteeRole.SECRETARY:
        raise ServiceError(_("A reviewer must be a voting member of %(committee)s.") % {"committee": request.committee})
    if reviewer.pk == request.requester_id:
        raise ServiceError(_("The requester cannot review their own request."))
    if permissions.is_recused(reviewer, request):
        raise ServiceError(_("%(user)s declared a conflict of interest and is recused.") % {"user": reviewer})
    assignment, created = ReviewAssignment.objects.get_or_create(
        request=request, reviewer=reviewer, round=request.round, defaults={"assigned_by": by}
    )
    if created:
        record_event(
            actor=by,
            verb="request.reviewer_assigned",
            target=request,
            request=request,
            data={"reviewer": reviewer.pk, "round": request.round},
        )
        notify(
            [reviewer],
            verb="request.review_assigned",
            link=_request_link(request),
            message=_("You are asked to review %(ref)s “%(title)s”.")
            % {"ref": request.reference, "title": request.title},
        )
    return assignment


@transaction.atomic
def review_submit(*, request: DeploymentRequest, by, recommendation: str, comments: str = "") -> ReviewAssignment:
    request = _lock(request)
    if request.status not in DeploymentRequest.IN_REVIEW_STATES:
        raise TransitionNotAllowed(_("The request is not in review."))
    assignment = request.review_assignments.filter(reviewer=by, round=request.round).first()
    if assignment is None:
        raise NotPermitted(_("You are not an assigned reviewer of %(ref)s.") % {"ref": request.reference})
    if permissions.is_recused(by, request):
        raise NotPermitted(_("You are recused from %(ref)s.") % {"ref": request.reference})
    if recommendation not in Recommendation.values or recommendation == Recommendation.ABSTAIN:
        raise ServiceError(_("Choose a recommendation."))
    assignment.recommendation, assignment.comments, assignment.submitted_at = recommendation, comments, timezone.now()
    assignment.save(update_fields=["recommendation", "comments", "submitted_at"])
    record_event(
        actor=by,
        verb="request.review_submitted",
        target=request,
        request=request,
        data={"recommendation": recommendation, "round": request.round},
    )
    return assignment


@transaction.atomic
def meeting_schedule(*, committee: IRBCommittee, by, scheduled_for, location: str = "") -> Meeting:
    permissions.require_manager(by, committee)
    meeting = Meeting.objects.create(committee=committee, scheduled_for=scheduled_for, location=location, created_by=by)
    record_event(actor=by, verb="meeting.scheduled", target=meeting, data={"at": scheduled_for.isoformat()})
    notify(
        committee_members(committee),
        verb="meeting.scheduled",
        link=reverse("governance:meeting-detail", args=[meeting.pk]),
        message=_("%(committee)s meets on %(at)s.")
        % {"committee": committee, "at": timezone.localtime(scheduled_for).strftime("%Y-%m-%d %H:%M")},
    )
    return meeting


@transaction.atomic
def meeting_add_to_agenda(*, meeting: Meeting, request: DeploymentRequest, by) -> AgendaItem:
    request = _lock(request)
    permissions.require_manager(by, meeting.committee)
    if request.committee_id != meeting.committee_id:
        raise ServiceError(_("The request belongs to another committee."))
    if request.status != S.FULL_BOARD_REVIEW:
        raise TransitionNotAllowed(_("Only requests in full-board review go on a meeting's agenda."))
    if meeting.status == Meeting.Status.CLOSED:
        raise TransitionNotAllowed(_("The meeting is closed."))
    item, created = AgendaItem.objects.get_or_create(
        meeting=meeting, request=request, round=request.round, defaults={"position": meeting.agenda_items.count() + 1}
    )
    if created:
        record_event(
            actor=by, verb="request.added_to_agenda", target=request, request=request, data={"meeting": meeting.pk}
        )
    return item


@transaction.atomic
def meeting_record_attendance(*, meeting: Meeting, by, present_user_ids: list[int]) -> Meeting:
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    permissions.require_manager(by, meeting.committee)
    if meeting.status == Meeting.Status.CLOSED:
        raise TransitionNotAllowed(_("The meeting is closed."))
    member_ids = set(meeting.committee.memberships.values_list("user_id", flat=True))
    unknown = set(present_user_ids) - member_ids
    if unknown:
        raise ServiceError(_("Only committee members can be recorded as present."))
    for user_id in member_ids:
        MeetingAttendance.objects.update_or_create(
            meeting=meeting, member_id=user_id, defaults={"present": user_id in present_user_ids}
        )
    meeting.status = Meeting.Status.IN_SESSION
    meeting.save(update_fields=["status"])
    report = quorum(meeting)
    record_event(
        actor=by,
        verb="meeting.attendance",
        target=meeting,
        data={"present": sorted(present_user_ids), "quorum": report.met},
    )
    return meeting


@transaction.atomic
def meeting_close(*, meeting: Meeting, by, minutes: str = "") -> Meeting:
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    permissions.require_manager(by, meeting.committee)
    meeting.status, meeting.minutes = Meeting.Status.CLOSED, minutes
    meeting.save(update_fields=["status", "minutes"])
    record_event(actor=by, verb="meeting.closed", target=meeting)
    return meeting


@dataclass(frozen=True)
class QuorumReport:
    voting_members: int
    voting_present: int
    lay_present: int
    met: bool
    reason: str


def quorum(meeting: Meeting, request: DeploymentRequest | None = None) -> QuorumReport:
    """Majority of voting members present (recused members do not count towards it) and at least one
    lay or unaffiliated member present."""
    memberships = list(meeting.committee.memberships.exclude(role=CommitteeMembership.CommitteeRole.SECRETARY))
    recused = set()
    if request is not None:
        recused = set(
            ConflictDeclaration.objects.filter(request=request, has_conflict=True).values_list("member_id", flat=True)
        )
    present = set(meeting.attendance.filter(present=True).values_list("member_id", flat=True))
    voting = [m for m in memberships if m.user_id not in recused]
    voting_present = [m for m in voting if m.user_id in present]
    lay_present = [m for m in voting_present if m.role == CommitteeMembership.CommitteeRole.LAY]
    if len(voting_present) * 2 <= len(voting):
        return QuorumReport(
            len(voting),
            len(voting_present),
            len(lay_present),
            False,
            _("%(present)d of %(total)d voting members present: a majority is needed.")
            % {"present": len(voting_present), "total": len(voting)},
        )
    if not lay_present:
        return QuorumReport(len(voting), len(voting_present), 0, False, _("No lay or unaffiliated member is present."))
    return QuorumReport(len(voting), len(voting_present), len(lay_present), True, _("Quorum met."))


def _current_meeting(request: DeploymentRequest) -> Meeting | None:
    item = (
        AgendaItem.objects.filter(request=request, round=request.round, meeting__status=Meeting.Status.IN_SESSION)
        .select_related("meeting")
        .order_by("-meeting__scheduled_for")
        .first()
    )
    return item.meeting if item else None


@transaction.atomic
def vote_cast(*, request: DeploymentRequest, by, choice: str, comment: str = "") -> Vote:
    request = _lock(request)
    if request.status != S.FULL_BOARD_REVIEW:
        raise TransitionNotAllowed(_("Votes are cast in full-board review."))
    permissions.require_voting_member(by, request)
    if choice not in Recommendation.values:
        raise ServiceError(_("Choose how you vote."))
    meeting = _current_meeting(request)
    if meeting is None:
        raise TransitionNotAllowed(
            _("%(ref)s is not on the agenda of a meeting in session.") % {"ref": request.reference}
        )
    if not meeting.attendance.filter(member=by, present=True).exists():
        raise NotPermitted(_("Only members recorded as present at the meeting vote."))
    report = quorum(meeting, request)
    if not report.met:
        raise TransitionNotAllowed(_("No quorum: %(reason)s") % {"reason": report.reason})
    if Vote.objects.filter(request=request, round=request.round, voter=by).exists():
        raise ServiceError(_("You have already voted on this round."))
    vote = Vote.objects.create(
        request=request, round=request.round, meeting=meeting, voter=by, choice=choice, comment=comment
    )
    record_event(
        actor=by,
        verb="request.vote",
        target=request,
        request=request,
        data={"choice": choice, "round": request.round, "meeting": meeting.pk},
    )
    return vote


VOTE_TO_DETERMINATION = {
    Recommendation.APPROVE: D.APPROVED,
    Recommendation.APPROVE_WITH_CONDITIONS: D.APPROVED_WITH_CONDITIONS,
    Recommendation.MODIFICATIONS_REQUIRED: D.MODIFICATIONS_REQUIRED,
    Recommendation.DEFER: D.DEFERRED,
    Recommendation.DISAPPROVE: D.DISAPPROVED,
}


def vote_outcome(request: DeploymentRequest) -> tuple[str | None, dict]:
    """The determination the votes of the current round carry: the choice of a majority of the votes
    cast (abstentions do not count); without a majority the request is deferred."""
    tally = {choice: 0 for choice in Recommendation.values}
    for choice in Vote.objects.filter(request=request, round=request.round).values_list("choice", flat=True):
        tally[choice] += 1
    cast = sum(count for choice, count in tally.items() if choice != Recommendation.ABSTAIN)
    if cast == 0:
        return None, tally
    for choice, count in tally.items():
        if choice != Recommendation.ABSTAIN and count * 2 > cast:
            return VOTE_TO_DETERMINATION[choice], tally
    return D.DEFERRED, tally


# --- Determination --------------------------------------------------------------------------------


@dataclass
class ConditionSpec:
    text: str
    kind: str = Condition.Kind.FREE_TEXT
    source: str = Condition.Source.ANY
    days: int | None = None
    dimension_code: str = ""
    threshold: float | None = None
    on_breach: str = Condition.OnBreach.FLAG
    owner: object = None
    due_date: object = None


@transaction.atomic
def request_determine(
    *,
    request: DeploymentRequest,
    by,
    determination: str,
    rationale: str = "",
    conditions: list[ConditionSpec] = (),
    override_justification: str = "",
) -> DeploymentRequest:
    request = _lock(request)
    if determination not in D.values:
        raise ServiceError(_("Unknown determination."))
    if request.status == S.EXPEDITED_REVIEW:
        _guard_expedited_determination(request, by, determination)
    elif request.status == S.FULL_BOARD_REVIEW:
        _guard_full_board_determination(request, by, determination)
    else:
        raise TransitionNotAllowed(
            _("A determination is made in review; %(ref)s is %(status)s.")
            % {"ref": request.reference, "status": request.get_status_display()}
        )
    if determination == D.APPROVED_WITH_CONDITIONS and not conditions:
        raise ServiceError(_("State the conditions of the approval."))
    if determination == D.APPROVED and conditions:
        raise ServiceError(_("An approval with conditions is “approved with conditions”."))
    evaluation = evaluate_request(request)
    approving = determination in (D.APPROVED, D.APPROVED_WITH_CONDITIONS)
    if approving and not evaluation.passed:
        if not override_justification.strip():
            failed = "; ".join(
                f"{check.label} ({check.actual}, {check.required})" for check in evaluation.failed_checks[:5]
            )
            raise ServiceError(
                _("The approval policy is not met (%(failed)s). Approving anyway needs a recorded justification.")
                % {"failed": failed},
                code="policy_not_met",
            )
        request.policy_override_justification = override_justification
        record_event(
            actor=by,
            verb="request.policy_override",
            target=request,
            request=request,
            data={"justification": override_justification, "evaluation": evaluation.as_dict()},
        )
    now = timezone.now()
    request.determination = determination
    request.determination_rationale = rationale
    request.determined_at = now
    target = {
        D.APPROVED: S.ACTIVE,
        D.APPROVED_WITH_CONDITIONS: S.ACTIVE,
        D.MODIFICATIONS_REQUIRED: S.MODIFICATIONS_REQUIRED,
        D.DEFERRED: S.DEFERRED,
        D.DISAPPROVED: S.DISAPPROVED,
    }[determination]
    if approving:
        request.approved_at = now
        request.expires_at = approval_expiry(request, start=now)
    request.transition(
        to=target,
        by=by,
        reason=rationale,
        data={
            "determination": determination,
            "round": request.round,
            "policy_passed": evaluation.passed,
            "expires_at": request.expires_at.isoformat() if approving else None,
        },
    )
    for spec in conditions:
        _condition_create(request, spec, by)
    if approving:
        ai_system_sync_status(system=request.ai_system, by=by, request=request, reason=_("approved"))
    recipients = [request.requester, *committee_managers(request.committee)]
    notify(
        recipients,
        verb="request.determined",
        link=_request_link(request),
        message=_("%(ref)s: %(determination)s.")
        % {"ref": request.reference, "determination": request.get_determination_display()},
    )
    return request


def _guard_expedited_determination(request, by, determination) -> None:
    role = permissions.committee_role(by, request.committee)
    assigned = request.review_assignments.filter(reviewer=by, round=request.round).first()
    if role not in permissions.Chairs and assigned is None:
        raise NotPermitted(_("In expedited review the assigned reviewer or the chair determines."))
    if permissions.is_recused(by, request):
        raise NotPermitted(_("You are recused from %(ref)s.") % {"ref": request.reference})
    if determination in (D.DISAPPROVED, D.DEFERRED):
        raise ServiceError(_("Expedited review cannot defer or disapprove: refer the request to the full board."))
    reviews = request.review_assignments.filter(round=request.round, submitted_at__isnull=False)
    if not reviews.exists():
        raise ServiceError(_("Expedited review needs the assigned reviewer's review first."))


def _guard_full_board_determination(request, by, determination) -> None:
    permissions.require_manager(by, request)
    meeting = _current_meeting(request)
    if meeting is None:
        raise TransitionNotAllowed(_("Full-board determinations are made at a meeting in session."))
    report = quorum(meeting, request)
    if not report.met:
        raise TransitionNotAllowed(_("No quorum: %(reason)s") % {"reason": report.reason})
    outcome, tally = vote_outcome(request)
    if outcome is None:
        raise ServiceError(_("No votes have been cast on this round."))
    if outcome != determination:
        raise ServiceError(
            _("The determination must follow the vote, which carries “%(outcome)s” (%(tally)s).")
            % {"outcome": D(outcome).label, "tally": ", ".join(f"{k}: {v}" for k, v in tally.items() if v)}
        )


def _condition_create(request, spec: ConditionSpec, by) -> Condition:
    if spec.kind == Condition.Kind.DIMENSION_LOWER_BOUND:
        from benchmark.models import Dimension

        if not Dimension.objects.filter(code=spec.dimension_code).exists():
            raise ServiceError(_("Unknown dimension %(code)s in a condition.") % {"code": spec.dimension_code})
    if spec.threshold is not None and not 0 <= spec.threshold <= 1:
        raise ServiceError(_("A threshold is between 0 and 1."))
    if spec.source not in Condition.Source.values:
        raise ServiceError(_("A condition applies to any audit, benchmark audits or safety simulations."))
    audit_bound = spec.kind in (
        Condition.Kind.REAUDIT_INTERVAL,
        Condition.Kind.DIMENSION_LOWER_BOUND,
        Condition.Kind.OVERALL_LOWER_BOUND,
    )
    condition = Condition(
        request=request,
        text=spec.text,
        kind=spec.kind,
        source=spec.source if audit_bound else Condition.Source.ANY,
        days=spec.days,
        dimension_code=spec.dimension_code,
        threshold=spec.threshold,
        on_breach=spec.on_breach,
        owner=spec.owner or request.requester,
        due_date=spec.due_date,
    )
    condition.full_clean()
    condition.save()
    record_event(
        actor=by,
        verb="condition.created",
        target=condition,
        request=request,
        data={"kind": spec.kind, "source": condition.source, "text": spec.text, "on_breach": spec.on_breach},
    )
    return condition


@transaction.atomic
def request_reschedule(*, request: DeploymentRequest, by) -> DeploymentRequest:
    request = _lock(request)
    permissions.require_manager(by, request)
    request.transition(to=S.FULL_BOARD_REVIEW, by=by)
    return request


# --- After approval -------------------------------------------------------------------------------


@transaction.atomic
def request_suspend(*, request: DeploymentRequest, by, reason: str) -> DeploymentRequest:
    """Suspend an approval. ``by`` None means MedGov itself, on evidence (a breached condition)."""
    request = _lock(request)
    if by is not None:
        permissions.require_manager(by, request)
    if not reason.strip():
        raise ServiceError(_("Give the reason for the suspension."))
    request.transition(to=S.SUSPENDED, by=by, reason=reason)
    system = ai_system_sync_status(system=request.ai_system, by=by, request=request, reason=reason)
    notify(
        [request.requester, system.owner, *committee_members(request.committee)],
        verb="request.suspended",
        link=_request_link(request),
        message=_("%(ref)s is suspended: %(reason)s") % {"ref": request.reference, "reason": reason},
    )
    return request


@transaction.atomic
def request_reinstate(*, request: DeploymentRequest, by, reason: str) -> DeploymentRequest:
    request = _lock(request)
    permissions.require_chair(by, request)
    if request.expires_at and request.expires_at <= timezone.now():
        raise TransitionNotAllowed(_("The approval has expired meanwhile; it needs a new request."))
    request.transition(to=S.ACTIVE, by=by, reason=reason)
    ai_system_sync_status(system=request.ai_system, by=by, request=request, reason=reason)
    notify(
        [request.requester],
        verb="request.reinstated",
        link=_request_link(request),
        message=_("%(ref)s is reinstated.") % {"ref": request.reference},
    )
    return request


@transaction.atomic
def request_renew(
    *, request: DeploymentRequest, by, rationale: str = "", override_justification: str = ""
) -> DeploymentRequest:
    """Continuing review ends in renewal: another approval period from today, on fresh evidence that
    meets the policy. The request returns to active; the renewal is counted on it and in the event log."""
    request = _lock(request)
    permissions.require_chair(by, request)
    if request.expires_at and request.expires_at <= timezone.now():
        raise TransitionNotAllowed(_("The approval has expired meanwhile; it needs a new request."))
    evaluation = evaluate_request(request)
    if not evaluation.passed:
        if not override_justification.strip():
            raise ServiceError(
                _("Renewal needs a fresh audit that meets the approval policy, or a recorded justification."),
                code="policy_not_met",
            )
        record_event(
            actor=by,
            verb="request.policy_override",
            target=request,
            request=request,
            data={"justification": override_justification, "evaluation": evaluation.as_dict()},
        )
    now = timezone.now()
    previous_expiry = request.expires_at
    request.expires_at = approval_expiry(request, start=now)
    request.renewal_count += 1
    request.renewed_at = now
    request.transition(
        to=S.ACTIVE,
        by=by,
        reason=rationale,
        data={
            "renewed": True,
            "renewal": request.renewal_count,
            "previous_expires_at": previous_expiry.isoformat() if previous_expiry else None,
            "expires_at": request.expires_at.isoformat(),
        },
    )
    ai_system_sync_status(system=request.ai_system, by=by, request=request, reason=_("renewed"))
    notify(
        [request.requester],
        verb="request.renewed",
        link=_request_link(request),
        message=_("%(ref)s is renewed until %(date)s.")
        % {"ref": request.reference, "date": timezone.localtime(request.expires_at).date()},
    )
    return request


@transaction.atomic
def request_terminate(*, request: DeploymentRequest, by, reason: str) -> DeploymentRequest:
    request = _lock(request)
    permissions.require_manager(by, request)
    request.transition(to=S.TERMINATED, by=by, reason=reason)
    ai_system_sync_status(system=request.ai_system, by=by, request=request, reason=reason)
    notify(
        [request.requester],
        verb="request.terminated",
        link=_request_link(request),
        message=_("%(ref)s is terminated: %(reason)s") % {"ref": request.reference, "reason": reason},
    )
    return request


@transaction.atomic
def request_close(*, request: DeploymentRequest, by, reason: str = "") -> DeploymentRequest:
    request = _lock(request)
    if request.requester_id != by.pk:
        permissions.require_manager(by, request)
    request.transition(to=S.CLOSED, by=by, reason=reason)
    ai_system_sync_status(system=request.ai_system, by=by, request=request, reason=reason)
    return request


@transaction.atomic
def request_mark_deployed(*, request: DeploymentRequest, by) -> DeploymentRequest:
    """The requester or the system's owner reports that the approved system is now in clinical use.

    Approval and use are distinct facts: the system is *approved* when the committee decides and
    *deployed* from this report until the approval is suspended or ends."""
    request = _lock(request)
    if by.pk not in (request.requester_id, request.ai_system.owner_id):
        raise NotPermitted(_("Only the requester or the system's owner reports a deployment."))
    if request.status not in DeploymentRequest.APPROVED_STATES:
        raise TransitionNotAllowed(
            _("Only an approval in force can be put into use; %(ref)s is %(status)s.")
            % {"ref": request.reference, "status": request.get_status_display()}
        )
    if request.deployed_at is not None:
        raise TransitionNotAllowed(_("%(ref)s is already in use.") % {"ref": request.reference})
    request.deployed_at = timezone.now()
    request.save(update_fields=["deployed_at"])
    record_event(
        actor=by, verb="request.deployed", target=request, request=request, data={"system": request.ai_system_id}
    )
    ai_system_sync_status(system=request.ai_system, by=by, request=request, reason=_("put into clinical use"))
    notify(
        committee_managers(request.committee),
        verb="request.deployed",
        link=_request_link(request),
        message=_("%(system)s is in clinical use under %(ref)s.")
        % {"system": request.ai_system.name, "ref": request.reference},
    )
    return request


def continuing_review_sweep(*, now=None, notice_days: int = 30) -> dict:
    """Daily: approvals near expiry become due for continuing review; expired ones expire; re-audits that
    are overdue breach their condition."""
    now = now or timezone.now()
    report = {"due": 0, "expired": 0, "overdue_reaudits": 0}
    for request in DeploymentRequest.objects.filter(status__in=DeploymentRequest.APPROVED_STATES, expires_at__lte=now):
        with transaction.atomic():
            locked = _lock(request)
            if locked.status in DeploymentRequest.APPROVED_STATES and locked.expires_at <= now:
                locked.transition(to=S.EXPIRED, by=None, reason=_("approval period ended"))
                ai_system_sync_status(
                    system=locked.ai_system, by=None, request=locked, reason=_("approval period ended")
                )
                notify(
                    [locked.requester, *committee_managers(locked.committee)],
                    verb="request.expired",
                    link=_request_link(locked),
                    message=_("%(ref)s has expired.") % {"ref": locked.reference},
                )
                report["expired"] += 1
    due_before = now + timedelta(days=notice_days)
    for request in DeploymentRequest.objects.filter(status=S.ACTIVE, expires_at__lte=due_before):
        with transaction.atomic():
            locked = _lock(request)
            if locked.status == S.ACTIVE:
                locked.transition(
                    to=S.CONTINUING_REVIEW_DUE,
                    by=None,
                    reason=_("approval expires within %(d)d days") % {"d": notice_days},
                )
                notify(
                    [locked.requester, *committee_managers(locked.committee)],
                    verb="request.review_due",
                    link=_request_link(locked),
                    message=_("%(ref)s is due for continuing review before %(date)s.")
                    % {"ref": locked.reference, "date": timezone.localtime(locked.expires_at).date()},
                )
                report["due"] += 1
    report["overdue_reaudits"] = _check_reaudit_intervals(now)
    return report


def _check_reaudit_intervals(now) -> int:
    breached = 0
    conditions = Condition.objects.filter(
        kind=Condition.Kind.REAUDIT_INTERVAL,
        status=Condition.Status.OPEN,
        request__status__in=DeploymentRequest.APPROVED_STATES,
    ).select_related("request")
    for condition in conditions:
        request = condition.request
        counted_kinds = [kind for kind in Audit.Kind.values if condition.applies_to(kind)]
        latest = (
            Audit.objects.filter(
                endpoint__in=request.endpoints.all(),
                status__in=Audit.FINISHED_WITH_SCORES,
                kind__in=counted_kinds,
            )
            .order_by("-finished_at")
            .values_list("finished_at", flat=True)
            .first()
        )
        since = latest or request.approved_at or request.determined_at
        if since and now - since > timedelta(days=condition.days):
            _breach(
                condition,
                _("no scored audit (%(source)s) in the last %(days)d days")
                % {"source": condition.get_source_display(), "days": condition.days},
            )
            breached += 1
    return breached


def _lower_bound_breach(audit: Audit, condition: Condition, block: dict | None, target: str) -> str:
    low = (block or {}).get("ci_low")
    if low is None or low >= condition.threshold:
        return ""
    return _("audit #%(pk)s (%(kind)s): %(target)s lower bound %(low).3f < %(t).2f") % {
        "pk": audit.pk,
        "kind": audit.get_kind_display(),
        "target": target,
        "low": low,
        "t": condition.threshold,
    }


def conditions_check_audit(*, audit: Audit) -> list[Condition]:
    """Check an audit of an endpoint against the machine-checkable conditions of the approvals it serves.

    Lower-bound conditions apply to benchmark audits, safety simulations or both, as their source says;
    a dimension the audit did not measure is not a breach."""
    requests = DeploymentRequest.objects.filter(
        status__in=DeploymentRequest.APPROVED_STATES, endpoints=audit.endpoint
    ).distinct()
    summary = audit.summary or {}
    breached = []
    for request in requests:
        same_model_checked = False
        for condition in request.conditions.filter(status=Condition.Status.OPEN):
            detail = ""
            if condition.kind == Condition.Kind.DIMENSION_LOWER_BOUND and condition.applies_to(audit.kind):
                block = (summary.get("dimensions") or {}).get(condition.dimension_code)
                detail = _lower_bound_breach(audit, condition, block, condition.dimension_code)
            elif condition.kind == Condition.Kind.OVERALL_LOWER_BOUND and condition.applies_to(audit.kind):
                detail = _lower_bound_breach(audit, condition, summary.get("overall"), _("overall"))
            elif condition.kind == Condition.Kind.SAME_MODEL:
                same_model_checked = True
                if audit.fingerprint_changed:
                    detail = _("audit #%(pk)s: the model behind %(endpoint)s changed (%(model)s)") % {
                        "pk": audit.pk,
                        "endpoint": audit.endpoint.name,
                        "model": audit.fingerprint.get("model_reported"),
                    }
            if detail:
                _breach(condition, detail)
                breached.append(condition)
        if audit.fingerprint_changed and not same_model_checked:
            with transaction.atomic():
                record_event(
                    actor=None,
                    verb="request.model_changed",
                    target=request,
                    request=request,
                    data={"audit": audit.pk, "fingerprint": audit.fingerprint_hash},
                )
                notify(
                    [request.requester, *committee_managers(request.committee)],
                    verb="request.model_changed",
                    link=_request_link(request),
                    message=_("%(ref)s: the model behind endpoint %(endpoint)s changed; review the approval.")
                    % {"ref": request.reference, "endpoint": audit.endpoint.name},
                )
    return breached


def _breach(condition: Condition, detail: str) -> None:
    with transaction.atomic():
        locked = Condition.objects.select_for_update().get(pk=condition.pk)
        if locked.status != Condition.Status.OPEN:
            return
        locked.status, locked.breached_at, locked.breach_detail = Condition.Status.BREACHED, timezone.now(), detail
        locked.save(update_fields=["status", "breached_at", "breach_detail"])
        request = locked.request
        record_event(
            actor=None,
            verb="condition.breached",
            target=locked,
            request=request,
            data={"detail": detail, "on_breach": locked.on_breach},
        )
        if locked.on_breach == Condition.OnBreach.SUSPEND and request.status in DeploymentRequest.APPROVED_STATES:
            request_suspend(request=request, by=None, reason=_("condition breached: %(detail)s") % {"detail": detail})
        else:
            notify(
                [request.requester, locked.owner, *committee_managers(request.committee)],
                verb="condition.breached",
                link=_request_link(request),
                message=_("%(ref)s: a condition is breached — %(detail)s")
                % {"ref": request.reference, "detail": detail},
            )


@transaction.atomic
def condition_resolve(*, condition: Condition, by, status: str, note: str = "") -> Condition:
    condition = (
        Condition.objects.select_for_update(of=("self",)).select_related("request__committee").get(pk=condition.pk)
    )
    permissions.require_manager(by, condition.request)
    if status not in (Condition.Status.MET, Condition.Status.WAIVED, Condition.Status.OPEN):
        raise ServiceError(_("A condition is met, waived or re-opened."))
    previous = condition.status
    condition.status = status
    condition.save(update_fields=["status"])
    record_event(
        actor=by,
        verb="condition.resolved",
        target=condition,
        request=condition.request,
        data={"from": previous, "to": status, "note": note},
    )
    return condition


# --- Amendments and incidents ---------------------------------------------------------------------


@transaction.atomic
def amendment_create(*, parent: DeploymentRequest, by, amendment_kind: str, **fields) -> DeploymentRequest:
    """Open a child submission of an approved request for a new model version, a new use or another change;
    it starts as a draft copy of the parent's intake."""
    parent = _lock(parent)
    permissions.require_requester(by, parent)
    if parent.status not in DeploymentRequest.APPROVED_STATES:
        raise TransitionNotAllowed(_("Only an approved request can be amended."))
    if amendment_kind not in DeploymentRequest.AmendmentKind.values:
        raise ServiceError(_("Say what the amendment changes: a new model version, a new use or something else."))
    defaults = {name: getattr(parent, name) for name in INTAKE_FIELDS}
    defaults.update(fields)
    amendment = request_create(
        by=by,
        ai_system=parent.ai_system,
        endpoints=list(parent.endpoints.all()),
        kind=DeploymentRequest.Kind.AMENDMENT,
        amendment_kind=amendment_kind,
        parent=parent,
        **defaults,
    )
    amendment.committee = parent.committee
    amendment.save(update_fields=["committee"])
    record_event(
        actor=by,
        verb="request.amendment_opened",
        target=parent,
        request=parent,
        data={"amendment": amendment.reference, "amendment_kind": amendment_kind},
    )
    return amendment


@transaction.atomic
def incident_report(*, request: DeploymentRequest, by, severity: str, description: str, occurred_at) -> IncidentReport:
    request = _lock(request)
    if (
        request.requester_id != by.pk
        and request.ai_system.owner_id != by.pk
        and permissions.committee_role(by, request.committee) is None
    ):
        raise NotPermitted(
            _("Only the requester, the system owner or the committee report incidents on %(ref)s.")
            % {"ref": request.reference}
        )
    if request.status not in (*DeploymentRequest.APPROVED_STATES, S.SUSPENDED):
        raise TransitionNotAllowed(_("Incidents are reported on approved (or suspended) deployments."))
    if severity not in IncidentReport.Severity.values or not description.strip():
        raise ServiceError(_("Give the severity and a description of the incident."))
    incident = IncidentReport.objects.create(
        request=request, reporter=by, severity=severity, description=description, occurred_at=occurred_at
    )
    record_event(actor=by, verb="incident.reported", target=incident, request=request, data={"severity": severity})
    notify(
        committee_members(request.committee),
        verb="incident.reported",
        link=_request_link(request),
        message=_("%(severity)s incident reported on %(ref)s.")
        % {"severity": incident.get_severity_display(), "ref": request.reference},
    )
    return incident


@transaction.atomic
def incident_review(*, incident: IncidentReport, by, outcome: str, suspend: bool = False) -> IncidentReport:
    incident = IncidentReport.objects.select_for_update().select_related("request").get(pk=incident.pk)
    permissions.require_manager(by, incident.request)
    if incident.status == IncidentReport.Status.CLOSED:
        raise TransitionNotAllowed(_("The incident is already closed."))
    if not outcome.strip():
        raise ServiceError(_("Record the committee's outcome."))
    incident.status, incident.outcome, incident.closed_at = IncidentReport.Status.CLOSED, outcome, timezone.now()
    incident.save(update_fields=["status", "outcome", "closed_at"])
    record_event(
        actor=by,
        verb="incident.reviewed",
        target=incident,
        request=incident.request,
        data={"suspend": suspend, "outcome": outcome},
    )
    if suspend:
        request_suspend(
            request=incident.request,
            by=by,
            reason=_("incident #%(pk)s: %(outcome)s") % {"pk": incident.pk, "outcome": outcome},
        )
    return incident
