"""The institution: who is who, which AI systems exist, the guidelines they answer to, and the
deployment requests that move from intake to an IRB determination and continuing review."""

import hashlib
import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from config.errors import TransitionNotAllowed

User = settings.AUTH_USER_MODEL


class Role(models.TextChoices):
    """Institution-wide roles, held as Django groups of the same name."""

    REQUESTER = "requester", _("Requester")
    AUDITOR = "auditor", _("Auditor")
    IRB_MEMBER = "irb_member", _("IRB member")
    COMPLIANCE_ADMIN = "compliance_admin", _("Compliance administrator")


class RiskTier(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


# How long an approval lasts when the tier's policy does not say otherwise.
DEFAULT_APPROVAL_MONTHS = {RiskTier.LOW: 12, RiskTier.MEDIUM: 12, RiskTier.HIGH: 6}


def default_approval_months(tier: str) -> int:
    return DEFAULT_APPROVAL_MONTHS.get(tier, 12)


def bilingual(en: str, zh: str) -> str:
    return zh if (get_language() or "").startswith("zh") and zh else en


class Department(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name_en = models.CharField(max_length=200)
    name_zh = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return bilingual(self.name_en, self.name_zh)


class Profile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="staff")
    title = models.CharField(max_length=120, blank=True)

    def __str__(self):
        return f"{self.user} ({self.title})"


class AuditTeam(models.Model):
    """An LLM audit team embedded in the hospital; owns endpoints and audits through object permissions."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    group = models.OneToOneField("auth.Group", on_delete=models.PROTECT, related_name="audit_team")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class AuditTeamMembership(models.Model):
    class TeamRole(models.TextChoices):
        LEAD = "lead", _("Lead")
        CLINICIAN = "clinician", _("Clinician")
        ETHICIST = "ethicist", _("Ethicist")
        DATA_PROTECTION = "data_protection", _("Data-protection officer")
        IT_SECURITY = "it_security", _("IT security")

    team = models.ForeignKey(AuditTeam, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="audit_team_memberships")
    role = models.CharField(max_length=20, choices=TeamRole.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="audit_team_member_unique"),
            models.CheckConstraint(
                condition=Q(role__in=["lead", "clinician", "ethicist", "data_protection", "it_security"]),
                name="audit_team_role_valid",
            ),
        ]

    def __str__(self):
        return f"{self.user} – {self.team} ({self.role})"


class IRBCommittee(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    group = models.OneToOneField("auth.Group", on_delete=models.PROTECT, related_name="irb_committee")
    is_default = models.BooleanField(default=False, help_text=_("Receives new deployment requests."))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_committee")
        ]

    def __str__(self):
        return self.name

    def voting_members(self):
        return self.memberships.exclude(role=CommitteeMembership.CommitteeRole.SECRETARY)


class CommitteeMembership(models.Model):
    class CommitteeRole(models.TextChoices):
        CHAIR = "chair", _("Chair")
        VICE_CHAIR = "vice_chair", _("Vice-chair")
        SECRETARY = "secretary", _("Secretary")
        MEMBER = "member", _("Member")
        LAY = "lay", _("Lay / unaffiliated member")

    committee = models.ForeignKey(IRBCommittee, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="committee_memberships")
    role = models.CharField(max_length=20, choices=CommitteeRole.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["committee", "user"], name="committee_member_unique"),
            models.CheckConstraint(
                condition=Q(role__in=["chair", "vice_chair", "secretary", "member", "lay"]),
                name="committee_role_valid",
            ),
        ]

    def __str__(self):
        return f"{self.user} – {self.committee} ({self.role})"

    @property
    def is_voting(self) -> bool:
        # The secretary runs the process and keeps the minutes but does not vote.
        return self.role != self.CommitteeRole.SECRETARY

    @property
    def manages_process(self) -> bool:
        return self.role in (self.CommitteeRole.CHAIR, self.CommitteeRole.VICE_CHAIR, self.CommitteeRole.SECRETARY)


class AISystem(models.Model):
    class Hosting(models.TextChoices):
        ON_PREMISES = "on_premises", _("On premises")
        VENDOR_CLOUD = "vendor_cloud", _("Vendor cloud")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        APPROVED = "approved", _("Approved")
        DEPLOYED = "deployed", _("Deployed")
        SUSPENDED = "suspended", _("Suspended")
        RETIRED = "retired", _("Retired")

    name = models.CharField(max_length=160, unique=True)
    vendor = models.CharField(max_length=160)
    model_name = models.CharField(max_length=160)
    model_version = models.CharField(max_length=80, blank=True)
    hosting = models.CharField(max_length=20, choices=Hosting.choices, default=Hosting.ON_PREMISES)
    intended_use = models.TextField()
    clinical_area = models.CharField(max_length=160, blank=True)
    processes_identifiable_data = models.BooleanField(default=False)
    patient_facing = models.BooleanField(default=False)
    influences_clinical_decisions = models.BooleanField(default=False)
    risk_tier = models.CharField(max_length=10, choices=RiskTier.choices, default=RiskTier.MEDIUM)
    risk_tier_override_reason = models.TextField(blank=True)
    owner_department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="ai_systems")
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="owned_ai_systems")
    audit_team = models.ForeignKey(
        AuditTeam, null=True, blank=True, on_delete=models.SET_NULL, related_name="ai_systems"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROPOSED)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(risk_tier__in=["low", "medium", "high"]), name="ai_system_tier_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["proposed", "approved", "deployed", "suspended", "retired"]),
                name="ai_system_status_valid",
            ),
        ]

    def __str__(self):
        return self.name


class ApprovalPolicy(models.Model):
    """Evidence an approval needs for a risk tier: thresholds on Wilson lower bounds, rates and freshness."""

    risk_tier = models.CharField(max_length=10, choices=RiskTier.choices, unique=True)
    name = models.CharField(max_length=160)
    required_suite = models.ForeignKey(
        "benchmark.BenchmarkSuite", on_delete=models.PROTECT, related_name="approval_policies"
    )
    required_scenario_suite = models.ForeignKey(
        "benchmark.ScenarioSuite", null=True, blank=True, on_delete=models.PROTECT, related_name="approval_policies"
    )
    max_refusal_rate = models.FloatField(default=0.2)
    max_error_rate = models.FloatField(default=0.02)
    max_audit_age_days = models.PositiveIntegerField(default=90)
    approval_months = models.PositiveIntegerField(
        blank=True, help_text=_("Empty: the tier's default, 12 months (6 for the high tier).")
    )
    allow_expedited = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["risk_tier"]
        verbose_name_plural = "approval policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(max_refusal_rate__gte=0, max_refusal_rate__lte=1)
                & Q(max_error_rate__gte=0, max_error_rate__lte=1),
                name="policy_rates_between_0_and_1",
            ),
            models.CheckConstraint(condition=Q(approval_months__gte=1), name="policy_approval_months_positive"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.approval_months is None:
            self.approval_months = default_approval_months(self.risk_tier)
        super().save(*args, **kwargs)


class PolicyThreshold(models.Model):
    class Scope(models.TextChoices):
        OVERALL = "overall", _("Overall")
        CATEGORY = "category", _("Category")
        EACH_DIMENSION_IN_CATEGORY = "each_dimension", _("Every dimension of a category")
        DIMENSION = "dimension", _("Dimension")

    class Source(models.TextChoices):
        BENCHMARK = "benchmark", _("Benchmark audit")
        SIMULATION = "simulation", _("Safety simulation")

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="thresholds")
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.BENCHMARK)
    scope = models.CharField(max_length=20, choices=Scope.choices)
    target = models.CharField(max_length=64, blank=True, help_text=_("Category or dimension code; empty for overall."))
    min_lower_bound = models.FloatField()

    class Meta:
        ordering = ["source", "scope", "target"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "source", "scope", "target"], name="policy_threshold_unique"),
            models.CheckConstraint(
                condition=Q(min_lower_bound__gte=0, min_lower_bound__lte=1), name="threshold_between_0_and_1"
            ),
        ]

    def __str__(self):
        return f"{self.scope} {self.target} ≥ {self.min_lower_bound}"


class Guideline(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        EFFECTIVE = "effective", _("Effective")
        SUPERSEDED = "superseded", _("Superseded")

    code = models.SlugField(max_length=60)
    version = models.PositiveIntegerField()
    title_en = models.CharField(max_length=200)
    title_zh = models.CharField(max_length=200, blank=True)
    body_en = models.TextField(blank=True)
    body_zh = models.TextField(blank=True)
    effective_date = models.DateField()
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="guideline_version_unique"),
            models.UniqueConstraint(
                fields=["code"], condition=Q(status="effective"), name="one_effective_guideline_per_code"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "effective", "superseded"]), name="guideline_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.title_en} v{self.version}"

    @property
    def title(self) -> str:
        return bilingual(self.title_en, self.title_zh)

    @property
    def body(self) -> str:
        return bilingual(self.body_en, self.body_zh)


class GuidelineClause(models.Model):
    class Topic(models.TextChoices):
        DEIDENTIFICATION = "deidentification", _("De-identification")
        MINIMUM_NECESSARY = "minimum_necessary", _("Minimum necessary data")
        CONSENT = "consent", _("Consent")
        CROSS_BORDER = "cross_border", _("Cross-border transfer")
        RETENTION = "retention", _("Retention")
        HUMAN_OVERSIGHT = "human_oversight", _("Human oversight")
        INCIDENT_REPORTING = "incident_reporting", _("Incident reporting")
        OTHER = "other", _("Other")

    guideline = models.ForeignKey(Guideline, on_delete=models.CASCADE, related_name="clauses")
    number = models.CharField(max_length=10)
    position = models.PositiveIntegerField(default=0)
    topic = models.CharField(max_length=24, choices=Topic.choices)
    text_en = models.TextField()
    text_zh = models.TextField(blank=True)

    class Meta:
        ordering = ["guideline", "position", "number"]
        constraints = [models.UniqueConstraint(fields=["guideline", "number"], name="clause_number_unique")]

    def __str__(self):
        return f"§{self.number} {self.get_topic_display()}"

    @property
    def text(self) -> str:
        return bilingual(self.text_en, self.text_zh)


REQUEST_STATUSES = [
    "draft",
    "submitted",
    "screening",
    "clarification_requested",
    "auditing",
    "expedited_review",
    "full_board_review",
    "modifications_required",
    "deferred",
    "disapproved",
    "active",
    "continuing_review_due",
    "expired",
    "suspended",
    "terminated",
    "closed",
    "withdrawn",
]


class DeploymentRequest(models.Model):
    class Kind(models.TextChoices):
        INITIAL = "initial", _("Initial request")
        AMENDMENT = "amendment", _("Amendment")

    class AmendmentKind(models.TextChoices):
        NEW_MODEL_VERSION = "new_model_version", _("New model version")
        NEW_USE = "new_use", _("New use")
        OTHER = "other", _("Other change")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        SCREENING = "screening", _("Screening")
        CLARIFICATION_REQUESTED = "clarification_requested", _("Clarification requested")
        AUDITING = "auditing", _("Auditing")
        EXPEDITED_REVIEW = "expedited_review", _("Expedited review")
        FULL_BOARD_REVIEW = "full_board_review", _("Full-board review")
        MODIFICATIONS_REQUIRED = "modifications_required", _("Modifications required")
        DEFERRED = "deferred", _("Deferred")
        DISAPPROVED = "disapproved", _("Disapproved")
        ACTIVE = "active", _("Approved – active")
        CONTINUING_REVIEW_DUE = "continuing_review_due", _("Continuing review due")
        EXPIRED = "expired", _("Expired")
        SUSPENDED = "suspended", _("Suspended")
        TERMINATED = "terminated", _("Terminated")
        CLOSED = "closed", _("Closed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class ReviewType(models.TextChoices):
        EXPEDITED = "expedited", _("Expedited")
        FULL_BOARD = "full_board", _("Full board")

    class Determination(models.TextChoices):
        APPROVED = "approved", _("Approved")
        APPROVED_WITH_CONDITIONS = "approved_with_conditions", _("Approved with conditions")
        MODIFICATIONS_REQUIRED = "modifications_required", _("Modifications required")
        DEFERRED = "deferred", _("Deferred")
        DISAPPROVED = "disapproved", _("Disapproved")

    S = Status
    # Every allowed move: (from, to) -> action name. One method, ``transition``, changes status.
    TRANSITIONS = {
        (S.DRAFT, S.SUBMITTED): "submit",
        (S.DRAFT, S.WITHDRAWN): "withdraw",
        (S.SUBMITTED, S.SCREENING): "screen",
        (S.SUBMITTED, S.WITHDRAWN): "withdraw",
        (S.SCREENING, S.CLARIFICATION_REQUESTED): "request_clarification",
        (S.CLARIFICATION_REQUESTED, S.SCREENING): "respond",
        (S.SCREENING, S.AUDITING): "send_to_audit",
        (S.SCREENING, S.EXPEDITED_REVIEW): "start_review",
        (S.SCREENING, S.FULL_BOARD_REVIEW): "start_review",
        (S.SCREENING, S.WITHDRAWN): "withdraw",
        (S.CLARIFICATION_REQUESTED, S.WITHDRAWN): "withdraw",
        (S.AUDITING, S.EXPEDITED_REVIEW): "start_review",
        (S.AUDITING, S.FULL_BOARD_REVIEW): "start_review",
        (S.AUDITING, S.CLARIFICATION_REQUESTED): "request_clarification",
        (S.EXPEDITED_REVIEW, S.FULL_BOARD_REVIEW): "refer_to_full_board",
        (S.EXPEDITED_REVIEW, S.ACTIVE): "determine",
        (S.EXPEDITED_REVIEW, S.MODIFICATIONS_REQUIRED): "determine",
        (S.FULL_BOARD_REVIEW, S.ACTIVE): "determine",
        (S.FULL_BOARD_REVIEW, S.MODIFICATIONS_REQUIRED): "determine",
        (S.FULL_BOARD_REVIEW, S.DEFERRED): "determine",
        (S.FULL_BOARD_REVIEW, S.DISAPPROVED): "determine",
        (S.DEFERRED, S.FULL_BOARD_REVIEW): "reschedule",
        (S.MODIFICATIONS_REQUIRED, S.SUBMITTED): "resubmit",
        (S.MODIFICATIONS_REQUIRED, S.WITHDRAWN): "withdraw",
        (S.ACTIVE, S.CONTINUING_REVIEW_DUE): "mark_review_due",
        (S.ACTIVE, S.EXPIRED): "expire",
        (S.CONTINUING_REVIEW_DUE, S.ACTIVE): "renew",
        (S.CONTINUING_REVIEW_DUE, S.EXPIRED): "expire",
        (S.ACTIVE, S.SUSPENDED): "suspend",
        (S.CONTINUING_REVIEW_DUE, S.SUSPENDED): "suspend",
        (S.SUSPENDED, S.ACTIVE): "reinstate",
        (S.SUSPENDED, S.TERMINATED): "terminate",
        (S.ACTIVE, S.TERMINATED): "terminate",
        (S.CONTINUING_REVIEW_DUE, S.TERMINATED): "terminate",
        (S.ACTIVE, S.CLOSED): "close",
        (S.CONTINUING_REVIEW_DUE, S.CLOSED): "close",
        (S.EXPIRED, S.CLOSED): "close",
        (S.SUSPENDED, S.CLOSED): "close",
    }
    APPROVED_STATES = (S.ACTIVE, S.CONTINUING_REVIEW_DUE)
    IN_REVIEW_STATES = (S.EXPEDITED_REVIEW, S.FULL_BOARD_REVIEW)
    OPEN_STATES = (
        S.SUBMITTED,
        S.SCREENING,
        S.CLARIFICATION_REQUESTED,
        S.AUDITING,
        S.EXPEDITED_REVIEW,
        S.FULL_BOARD_REVIEW,
        S.DEFERRED,
    )

    reference = models.CharField(max_length=20, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INITIAL)
    amendment_kind = models.CharField(
        max_length=20, choices=AmendmentKind.choices, blank=True, help_text=_("What an amendment changes.")
    )
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="amendments")
    ai_system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="deployment_requests")
    endpoints = models.ManyToManyField("audits.ModelEndpoint", blank=True, related_name="deployment_requests")
    title = models.CharField(max_length=200)
    intended_use = models.TextField()
    intended_users = models.TextField(blank=True)
    patient_population = models.TextField(blank=True)
    oversight_plan = models.TextField(blank=True)
    data_flows = models.TextField(blank=True)
    fallback_plan = models.TextField(blank=True)
    patient_facing = models.BooleanField(default=False)
    processes_identifiable_data = models.BooleanField(default=False)
    influences_clinical_decisions = models.BooleanField(default=False)
    vendor_cloud = models.BooleanField(default=False)
    risk_tier = models.CharField(max_length=10, choices=RiskTier.choices, default=RiskTier.MEDIUM)
    risk_tier_override_reason = models.TextField(blank=True)
    requester = models.ForeignKey(User, on_delete=models.PROTECT, related_name="deployment_requests")
    committee = models.ForeignKey(
        IRBCommittee, null=True, blank=True, on_delete=models.PROTECT, related_name="deployment_requests"
    )
    audit_team = models.ForeignKey(
        AuditTeam, null=True, blank=True, on_delete=models.SET_NULL, related_name="deployment_requests"
    )
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.DRAFT)
    review_type = models.CharField(max_length=12, choices=ReviewType.choices, blank=True)
    determination = models.CharField(max_length=26, choices=Determination.choices, blank=True)
    determination_rationale = models.TextField(blank=True)
    policy_override_justification = models.TextField(blank=True)
    round = models.PositiveIntegerField(default=1)
    guideline = models.ForeignKey(
        Guideline, null=True, blank=True, on_delete=models.PROTECT, related_name="deployment_requests"
    )
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    determined_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    renewal_count = models.PositiveIntegerField(default=0)
    renewed_at = models.DateTimeField(null=True, blank=True)
    deployed_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the owner reported the approved system as in clinical use.")
    )
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=REQUEST_STATUSES), name="deployment_request_status_valid"),
            models.CheckConstraint(
                condition=~Q(status__in=["active", "continuing_review_due"]) | Q(expires_at__isnull=False),
                name="approved_request_has_expiry",
            ),
            models.CheckConstraint(
                condition=~Q(status="disapproved") | Q(review_type="full_board"),
                name="disapproval_only_by_full_board",
            ),
            models.CheckConstraint(
                condition=(Q(kind="initial") & Q(amendment_kind=""))
                | (Q(kind="amendment") & Q(amendment_kind__in=["new_model_version", "new_use", "other"])),
                name="amendment_records_its_kind",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="request_status_expiry")]

    def __str__(self):
        return f"{self.reference} {self.title}"

    def allowed_targets(self) -> dict[str, str]:
        return {to: action for (frm, to), action in self.TRANSITIONS.items() if frm == self.status}

    def transition(self, *, to: str, by, reason: str = "", data: dict | None = None) -> "Event":
        """Change status along an allowed edge and record who, when and why in the event log.

        Call inside a transaction, with the row locked (``select_for_update``) by the calling service.
        """
        action = self.TRANSITIONS.get((self.status, to))
        if action is None:
            raise TransitionNotAllowed(
                _("A request in state “%(from)s” cannot move to “%(to)s”.")
                % {"from": self.get_status_display(), "to": self.Status(to).label}
            )
        previous = self.status
        self.status = to
        self.status_changed_at = timezone.now()
        self.save()
        from governance.events import record_event

        return record_event(
            actor=by,
            verb=f"request.{action}",
            target=self,
            request=self,
            data={"from": previous, "to": to, "reason": reason, **(data or {})},
        )

    @property
    def is_approved(self) -> bool:
        return self.status in self.APPROVED_STATES


class Attestation(models.Model):
    """A user's attestation of one clause of one guideline version, for a request or a deployed system."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="attestations")
    clause = models.ForeignKey(GuidelineClause, on_delete=models.PROTECT, related_name="attestations")
    guideline = models.ForeignKey(Guideline, on_delete=models.PROTECT, related_name="attestations")
    deployment_request = models.ForeignKey(
        DeploymentRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="attestations"
    )
    ai_system = models.ForeignKey(
        AISystem, null=True, blank=True, on_delete=models.CASCADE, related_name="attestations"
    )
    attested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "clause", "deployment_request"],
                condition=Q(deployment_request__isnull=False),
                name="attestation_once_per_request",
            ),
            models.UniqueConstraint(
                fields=["user", "clause", "ai_system"],
                condition=Q(ai_system__isnull=False),
                name="attestation_once_per_system",
            ),
            models.CheckConstraint(
                condition=Q(deployment_request__isnull=False) | Q(ai_system__isnull=False),
                name="attestation_has_subject",
            ),
        ]


class ReattestationRequest(models.Model):
    """A new guideline version asks each deployed system's owner to attest again."""

    ai_system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="reattestation_requests")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reattestation_requests")
    guideline = models.ForeignKey(Guideline, on_delete=models.CASCADE, related_name="reattestation_requests")
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ai_system", "guideline"], name="reattestation_once_per_version")
        ]


def attachment_path(instance, filename: str) -> str:
    # Uploaded names never become paths: files are stored under a random name in the request's folder.
    import uuid

    return f"requests/{instance.request_id}/{uuid.uuid4().hex}"


class RequestAttachment(models.Model):
    class Kind(models.TextChoices):
        VENDOR_DOCUMENTATION = "vendor_documentation", _("Vendor documentation")
        MODEL_CARD = "model_card", _("Model card")
        DATA_PROTECTION = "data_protection", _("Data-protection assessment")
        OTHER = "other", _("Other")

    request = models.ForeignKey(DeploymentRequest, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.OTHER)
    file = models.FileField(upload_to=attachment_path)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at"]


class ClarificationMessage(models.Model):
    class Kind(models.TextChoices):
        QUESTION = "question", _("Question")
        RESPONSE = "response", _("Response")

    request = models.ForeignKey(DeploymentRequest, on_delete=models.CASCADE, related_name="clarifications")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]


class Recommendation(models.TextChoices):
    APPROVE = "approve", _("Approve")
    APPROVE_WITH_CONDITIONS = "approve_with_conditions", _("Approve with conditions")
    MODIFICATIONS_REQUIRED = "modifications_required", _("Modifications required")
    DEFER = "defer", _("Defer")
    DISAPPROVE = "disapprove", _("Disapprove")
    ABSTAIN = "abstain", _("Abstain")


class ReviewAssignment(models.Model):
    request = models.ForeignKey(DeploymentRequest, on_delete=models.CASCADE, related_name="review_assignments")
    reviewer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="review_assignments")
    round = models.PositiveIntegerField()
    assigned_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)
    recommendation = models.CharField(max_length=26, choices=Recommendation.choices, blank=True)
    comments = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assigned_at"]
        constraints = [
            models.UniqueConstraint(fields=["request", "reviewer", "round"], name="review_assignment_unique")
        ]


class ConflictDeclaration(models.Model):
    request = models.ForeignKey(DeploymentRequest, on_delete=models.CASCADE, related_name="conflict_declarations")
    member = models.ForeignKey(User, on_delete=models.PROTECT, related_name="conflict_declarations")
    has_conflict = models.BooleanField()
    reason = models.TextField(blank=True)
    declared_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request", "member"], name="conflict_declaration_unique"),
            models.CheckConstraint(condition=Q(has_conflict=False) | ~Q(reason=""), name="conflict_needs_reason"),
        ]


class Meeting(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        IN_SESSION = "in_session", _("In session")
        CLOSED = "closed", _("Closed")

    committee = models.ForeignKey(IRBCommittee, on_delete=models.PROTECT, related_name="meetings")
    scheduled_for = models.DateTimeField()
    location = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    minutes = models.TextField(blank=True)

    class Meta:
        ordering = ["scheduled_for"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["scheduled", "in_session", "closed"]), name="meeting_status_valid"
            )
        ]

    def __str__(self):
        return f"{self.committee} {timezone.localtime(self.scheduled_for):%Y-%m-%d %H:%M}"


class MeetingAttendance(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendance")
    member = models.ForeignKey(User, on_delete=models.PROTECT, related_name="meeting_attendance")
    present = models.BooleanField(default=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "member"], name="attendance_unique")]


class AgendaItem(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="agenda_items")
    request = models.ForeignKey(DeploymentRequest, on_delete=models.CASCADE, related_name="agenda_items")
    round = models.PositiveIntegerField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["meeting", "request", "round"], name="agenda_item_unique")]


class Vote(models.Model):
    request = models.ForeignKey(DeploymentRequest, on_delete=models.CASCADE, related_name="votes")
    round = models.PositiveIntegerField()
    meeting = models.ForeignKey(Meeting, null=True, blank=True, on_delete=models.PROTECT, related_name="votes")
    voter = models.ForeignKey(User, on_delete=models.PROTECT, related_name="votes")
    choice = models.CharField(max_length=26, choices=Recommendation.choices)
    comment = models.TextField(blank=True)
    cast_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["cast_at"]
        constraints = [
            models.UniqueConstraint(fields=["request", "round", "voter"], name="one_vote_per_member_per_round"),
        ]


class Condition(models.Model):
    class Kind(models.TextChoices):
        FREE_TEXT = "free_text", _("Free text")
        REAUDIT_INTERVAL = "reaudit_interval", _("Re-audit every N days")
        DIMENSION_LOWER_BOUND = "dimension_lower_bound", _("Dimension lower bound on every scheduled audit")
        OVERALL_LOWER_BOUND = "overall_lower_bound", _("Overall lower bound on every scheduled audit")
        SAME_MODEL = "same_model", _("The model behind the endpoint must not change")

    class OnBreach(models.TextChoices):
        SUSPEND = "suspend", _("Suspend the approval")
        FLAG = "flag", _("Flag for the committee")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        MET = "met", _("Met")
        BREACHED = "breached", _("Breached")
        WAIVED = "waived", _("Waived")

    class Source(models.TextChoices):
        """Which audits a machine check applies to (lower bounds) or which audits count (re-audit interval)."""

        ANY = "any", _("Any audit")
        BENCHMARK = "benchmark", _("Benchmark audits")
        SIMULATION = "simulation", _("Safety simulations")

    request = models.ForeignKey(DeploymentRequest, on_delete=models.CASCADE, related_name="conditions")
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.FREE_TEXT)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.ANY)
    text = models.TextField()
    days = models.PositiveIntegerField(null=True, blank=True)
    dimension_code = models.CharField(max_length=64, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    on_breach = models.CharField(max_length=8, choices=OnBreach.choices, default=OnBreach.FLAG)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="owned_conditions")
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    breached_at = models.DateTimeField(null=True, blank=True)
    breach_detail = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="reaudit_interval") | Q(days__gt=0), name="reaudit_condition_has_days"
            ),
            models.CheckConstraint(
                condition=~Q(kind="dimension_lower_bound") | (~Q(dimension_code="") & Q(threshold__isnull=False)),
                name="dimension_condition_has_target",
            ),
            models.CheckConstraint(
                condition=~Q(kind="overall_lower_bound") | Q(threshold__isnull=False),
                name="overall_condition_has_threshold",
            ),
            models.CheckConstraint(
                condition=Q(source__in=["any", "benchmark", "simulation"]), name="condition_source_valid"
            ),
        ]

    def __str__(self):
        return self.text

    @property
    def is_machine_checked(self) -> bool:
        return self.kind != self.Kind.FREE_TEXT

    def applies_to(self, audit_kind: str) -> bool:
        """Whether an audit of this kind (``Audit.Kind``: benchmark or simulation) is checked or counts."""
        return self.source in (self.Source.ANY, audit_kind)


class IncidentReport(models.Model):
    class Severity(models.TextChoices):
        LOW = "low", _("Low")
        MODERATE = "moderate", _("Moderate")
        SEVERE = "severe", _("Severe")
        CRITICAL = "critical", _("Critical")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    request = models.ForeignKey(DeploymentRequest, on_delete=models.PROTECT, related_name="incidents")
    reporter = models.ForeignKey(User, on_delete=models.PROTECT, related_name="incident_reports")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    description = models.TextField()
    occurred_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    outcome = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class Notification(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    verb = models.CharField(max_length=60)
    message = models.TextField()
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]


class EventChainHead(models.Model):
    """Single row holding the tail of the event log; locking it serialises appends to the hash chain."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="event_chain_head_singleton")]


class Event(models.Model):
    """Append-only, hash-chained record of every transition, vote, attestation, override and suspension."""

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    verb = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=40)
    request = models.ForeignKey(
        DeploymentRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["request", "seq"], name="event_request_seq"),
            models.Index(fields=["target_type", "target_id"], name="event_target"),
        ]

    def __str__(self):
        return f"#{self.seq} {self.verb}"

    def canonical(self) -> bytes:
        payload = {
            "seq": self.seq,
            "created_at": self.created_at.isoformat(),
            "actor": self.actor_id,
            "verb": self.verb,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "request": self.request_id,
            "data": self.data,
            "prev_hash": self.prev_hash,
        }
        return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()
