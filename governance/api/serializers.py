from django.contrib.auth import get_user_model
from rest_framework import serializers

from audits.models import ModelEndpoint
from governance.models import (
    AISystem,
    ApprovalPolicy,
    AuditTeam,
    ClarificationMessage,
    Condition,
    DeploymentRequest,
    Event,
    Guideline,
    GuidelineClause,
    IncidentReport,
    IRBCommittee,
    Meeting,
    Notification,
    PolicyThreshold,
    Recommendation,
    ReviewAssignment,
    RiskTier,
    Vote,
)
from governance.services import GUIDELINE_FIELDS, POLICY_FIELDS

User = get_user_model()


class UserBriefSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "name"]

    def get_name(self, user) -> str:
        return user.get_full_name() or user.username


class AISystemSerializer(serializers.ModelSerializer):
    owner = UserBriefSerializer(read_only=True)
    pending_reattestations = serializers.SerializerMethodField(
        help_text="Guideline versions the owner still has to attest for this system."
    )

    class Meta:
        model = AISystem
        fields = [
            "id",
            "name",
            "vendor",
            "model_name",
            "model_version",
            "hosting",
            "intended_use",
            "clinical_area",
            "processes_identifiable_data",
            "patient_facing",
            "influences_clinical_decisions",
            "risk_tier",
            "risk_tier_override_reason",
            "owner_department",
            "owner",
            "audit_team",
            "status",
            "created_at",
            "pending_reattestations",
        ]
        read_only_fields = ["risk_tier", "risk_tier_override_reason", "owner", "status", "created_at"]

    def get_pending_reattestations(self, system) -> list[dict]:
        pending = getattr(system, "pending_reattestations", None)  # prefetched by the list
        if pending is None:
            pending = system.reattestation_requests.filter(completed_at__isnull=True).select_related("guideline")
        return [
            {"guideline": item.guideline_id, "code": item.guideline.code, "version": item.guideline.version}
            for item in pending
        ]


class ConditionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Condition
        fields = [
            "id",
            "request",
            "kind",
            "source",
            "text",
            "days",
            "dimension_code",
            "threshold",
            "on_breach",
            "owner",
            "due_date",
            "status",
            "breached_at",
            "breach_detail",
        ]
        read_only_fields = fields


class ClarificationSerializer(serializers.ModelSerializer):
    author = UserBriefSerializer(read_only=True)

    class Meta:
        model = ClarificationMessage
        fields = ["id", "kind", "body", "author", "created_at"]


class DeploymentRequestSerializer(serializers.ModelSerializer):
    requester = UserBriefSerializer(read_only=True)
    endpoints = serializers.PrimaryKeyRelatedField(many=True, queryset=ModelEndpoint.objects.all(), required=False)
    ai_system = serializers.PrimaryKeyRelatedField(queryset=AISystem.objects.all())
    conditions = ConditionSerializer(many=True, read_only=True)
    clarifications = ClarificationSerializer(many=True, read_only=True)
    available_actions = serializers.SerializerMethodField()

    class Meta:
        model = DeploymentRequest
        fields = [
            "id",
            "reference",
            "kind",
            "amendment_kind",
            "parent",
            "ai_system",
            "endpoints",
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
            "risk_tier",
            "risk_tier_override_reason",
            "requester",
            "committee",
            "audit_team",
            "status",
            "review_type",
            "determination",
            "determination_rationale",
            "policy_override_justification",
            "round",
            "guideline",
            "created_at",
            "submitted_at",
            "determined_at",
            "approved_at",
            "expires_at",
            "renewal_count",
            "renewed_at",
            "deployed_at",
            "conditions",
            "clarifications",
            "available_actions",
        ]
        read_only_fields = [
            "reference",
            "kind",
            "amendment_kind",
            "parent",
            "vendor_cloud",
            "risk_tier",
            "risk_tier_override_reason",
            "requester",
            "committee",
            "audit_team",
            "status",
            "review_type",
            "determination",
            "determination_rationale",
            "policy_override_justification",
            "round",
            "guideline",
            "created_at",
            "submitted_at",
            "determined_at",
            "approved_at",
            "expires_at",
            "renewal_count",
            "renewed_at",
            "deployed_at",
        ]

    def get_available_actions(self, request) -> list[str]:
        from governance.permissions import available_actions

        return available_actions(self.context["request"].user, request)


class EventSerializer(serializers.ModelSerializer):
    actor = UserBriefSerializer(read_only=True)

    class Meta:
        model = Event
        fields = [
            "seq",
            "created_at",
            "actor",
            "verb",
            "target_type",
            "target_id",
            "request",
            "data",
            "prev_hash",
            "hash",
        ]


class ReviewAssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewAssignment
        fields = ["id", "request", "reviewer", "round", "assigned_at", "recommendation", "comments", "submitted_at"]


class VoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vote
        fields = ["id", "request", "round", "meeting", "voter", "choice", "comment", "cast_at"]


class MeetingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Meeting
        fields = ["id", "committee", "scheduled_for", "location", "status", "minutes"]
        read_only_fields = ["status", "minutes"]


class CommitteeSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = IRBCommittee
        fields = ["id", "name", "description", "is_default", "members"]

    def get_members(self, committee) -> list[dict]:
        return [
            {"user": m.user_id, "username": m.user.username, "role": m.role}
            for m in committee.memberships.select_related("user")
        ]


class AuditTeamSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = AuditTeam
        fields = ["id", "name", "description", "members"]

    def get_members(self, team) -> list[dict]:
        return [
            {"user": m.user_id, "username": m.user.username, "role": m.role}
            for m in team.memberships.select_related("user")
        ]


class GuidelineClauseSerializer(serializers.ModelSerializer):
    class Meta:
        model = GuidelineClause
        fields = ["id", "number", "topic", "text_en", "text_zh"]
        extra_kwargs = {"text_zh": {"required": False}}

    def validate(self, attrs):
        # A partial update of the guideline is still a complete list of clauses.
        missing = [name for name in ("number", "topic", "text_en") if name not in attrs]
        if missing:
            raise serializers.ValidationError({name: "This field is required." for name in missing})
        return attrs


class GuidelineSerializer(serializers.ModelSerializer):
    """Compliance administrators write drafts; ``clauses``, when sent, replaces every clause of the draft.
    An effective or superseded version never changes: start a new version instead."""

    clauses = GuidelineClauseSerializer(many=True, required=False)

    class Meta:
        model = Guideline
        fields = ["id", "code", "version", *GUIDELINE_FIELDS, "status", "supersedes", "published_at", "clauses"]
        read_only_fields = ["status", "supersedes", "published_at"]
        extra_kwargs = {"version": {"required": False, "help_text": "Default: one above the latest version."}}
        # Version uniqueness is checked by the service with a clear message.
        validators = []

    def validate(self, attrs):
        if self.instance is not None and (
            attrs.get("code", self.instance.code) != self.instance.code
            or attrs.get("version", self.instance.version) != self.instance.version
        ):
            raise serializers.ValidationError("A guideline's code and version do not change.")
        return attrs


class PolicyThresholdSerializer(serializers.ModelSerializer):
    min_lower_bound = serializers.FloatField(min_value=0, max_value=1)

    class Meta:
        model = PolicyThreshold
        fields = ["id", "source", "scope", "target", "min_lower_bound"]
        extra_kwargs = {"target": {"required": False}, "source": {"required": False}}

    def validate(self, attrs):
        # A partial update of the policy is still a complete list of thresholds.
        missing = [name for name in ("scope", "min_lower_bound") if name not in attrs]
        if missing:
            raise serializers.ValidationError({name: "This field is required." for name in missing})
        return attrs


class ApprovalPolicySerializer(serializers.ModelSerializer):
    """Compliance administrators write policies; ``thresholds``, when sent, replaces all of them.
    ``approval_months`` empty (null) means the tier's default: 12 months, 6 for the high tier."""

    thresholds = PolicyThresholdSerializer(many=True, required=False)
    max_refusal_rate = serializers.FloatField(min_value=0, max_value=1, required=False)
    max_error_rate = serializers.FloatField(min_value=0, max_value=1, required=False)
    approval_months = serializers.IntegerField(min_value=1, max_value=60, required=False, allow_null=True)

    class Meta:
        model = ApprovalPolicy
        fields = ["id", "risk_tier", *POLICY_FIELDS, "thresholds"]

    def validate_risk_tier(self, value):
        if self.instance is not None and value != self.instance.risk_tier:
            raise serializers.ValidationError("A policy's tier does not change; edit the policy of that tier.")
        return value


class IncidentSerializer(serializers.ModelSerializer):
    class Meta:
        model = IncidentReport
        fields = [
            "id",
            "request",
            "reporter",
            "severity",
            "description",
            "occurred_at",
            "status",
            "outcome",
            "created_at",
            "closed_at",
        ]
        read_only_fields = ["request", "reporter", "status", "outcome", "created_at", "closed_at"]


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "verb", "message", "link", "created_at", "read_at"]


# --- Action inputs --------------------------------------------------------------------------------


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RequiredReasonInput(serializers.Serializer):
    reason = serializers.CharField()


class TierOverrideInput(serializers.Serializer):
    risk_tier = serializers.ChoiceField(choices=RiskTier.choices)
    reason = serializers.CharField()


class AmendInput(serializers.Serializer):
    amendment_kind = serializers.ChoiceField(choices=DeploymentRequest.AmendmentKind.choices)
    title = serializers.CharField(required=False, max_length=200)
    intended_use = serializers.CharField(required=False)


class AttestInput(serializers.Serializer):
    clauses = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)


class QuestionInput(serializers.Serializer):
    question = serializers.CharField()


class AnswerInput(serializers.Serializer):
    answer = serializers.CharField()


class SendToAuditInput(serializers.Serializer):
    audit_team = serializers.PrimaryKeyRelatedField(queryset=AuditTeam.objects.all())


class StartReviewInput(serializers.Serializer):
    review_type = serializers.ChoiceField(choices=DeploymentRequest.ReviewType.choices)


class AssignReviewerInput(serializers.Serializer):
    reviewer = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))


class ConflictInput(serializers.Serializer):
    has_conflict = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ReviewInput(serializers.Serializer):
    recommendation = serializers.ChoiceField(choices=Recommendation.choices, help_text="abstain is refused")
    comments = serializers.CharField(required=False, allow_blank=True, default="")


class VoteInput(serializers.Serializer):
    choice = serializers.ChoiceField(choices=Recommendation.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ConditionInput(serializers.Serializer):
    text = serializers.CharField()
    kind = serializers.ChoiceField(choices=Condition.Kind.choices, default=Condition.Kind.FREE_TEXT)
    source = serializers.ChoiceField(
        choices=Condition.Source.choices,
        default=Condition.Source.ANY,
        help_text="Which audits a lower bound is checked on, or which audits count as a re-audit.",
    )
    days = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    dimension_code = serializers.CharField(required=False, allow_blank=True, default="")
    threshold = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    on_breach = serializers.ChoiceField(choices=Condition.OnBreach.choices, default=Condition.OnBreach.FLAG)
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    due_date = serializers.DateField(required=False, allow_null=True)


class DetermineInput(serializers.Serializer):
    determination = serializers.ChoiceField(choices=DeploymentRequest.Determination.choices)
    rationale = serializers.CharField(required=False, allow_blank=True, default="")
    override_justification = serializers.CharField(required=False, allow_blank=True, default="")
    conditions = ConditionInput(many=True, required=False, default=list)


class RenewInput(serializers.Serializer):
    rationale = serializers.CharField(required=False, allow_blank=True, default="")
    override_justification = serializers.CharField(required=False, allow_blank=True, default="")


class IncidentInput(serializers.Serializer):
    severity = serializers.ChoiceField(choices=IncidentReport.Severity.choices)
    description = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class IncidentReviewInput(serializers.Serializer):
    outcome = serializers.CharField()
    suspend = serializers.BooleanField(default=False)


class AttendanceInput(serializers.Serializer):
    present = serializers.ListField(child=serializers.IntegerField(), allow_empty=True)


class AgendaInput(serializers.Serializer):
    request = serializers.PrimaryKeyRelatedField(queryset=DeploymentRequest.objects.all())


class ConditionResolveInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("met", "met"), ("waived", "waived"), ("open", "open")])
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AttachmentInput(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(
        choices=["vendor_documentation", "model_card", "data_protection", "other"], default="other"
    )
