from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from config.errors import NotPermitted
from governance import selectors, services
from governance.api import serializers as s
from governance.events import verify_event_chain
from governance.filtersets import DeploymentRequestFilterSet
from governance.models import (
    AISystem,
    ApprovalPolicy,
    AuditTeam,
    Condition,
    DeploymentRequest,
    Event,
    Guideline,
    IncidentReport,
    IRBCommittee,
    Meeting,
    Notification,
    ReattestationRequest,
    Role,
)
from governance.permissions import require_requester, require_role
from governance.policy import evaluate_request
from governance.roles import has_role


class ObjectFirst:
    """Validate action input only after the object lookup, so a stranger gets 404 whatever they send."""

    def _input(self, serializer_class):
        if self.detail:
            self.get_object()
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class ComplianceAdminWrites:
    """Anyone signed in reads; writes need the compliance administrator role, checked before the input is
    read so that a refusal says who may."""

    def create(self, request, *args, **kwargs):
        require_role(request.user, Role.COMPLIANCE_ADMIN)
        return super().create(request, *args, **kwargs)

    def update(self, request, *args, **kwargs):
        self.get_object()
        require_role(request.user, Role.COMPLIANCE_ADMIN)
        return super().update(request, *args, **kwargs)


class DeploymentRequestViewSet(
    ObjectFirst, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Deployment requests. Workflow moves are POST actions; each refuses with a clear message when the
    user's role or the request's state does not allow it."""

    queryset = DeploymentRequest.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.DeploymentRequestSerializer
    filterset_class = DeploymentRequestFilterSet
    search_fields = ["reference", "title", "ai_system__name"]
    ordering_fields = ["created_at", "submitted_at", "expires_at", "reference"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.request_list(user=self.request.user).prefetch_related(
            "conditions", "clarifications", "endpoints"
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        system = data.pop("ai_system")
        endpoints = data.pop("endpoints", [])
        if not selectors.system_list(user=self.request.user).filter(pk=system.pk).exists():
            raise NotPermitted("You may not file requests for this AI system.")
        serializer.instance = services.request_create(
            by=self.request.user, ai_system=system, endpoints=endpoints, **data
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("ai_system", None)
        endpoints = data.pop("endpoints", None)
        serializer.instance = services.request_update(
            request=serializer.instance, by=self.request.user, endpoints=endpoints, **data
        )

    def _respond(self, request_obj, code=status.HTTP_200_OK):
        request_obj = self.get_queryset().get(pk=request_obj.pk)
        return Response(self.get_serializer(request_obj).data, status=code)

    @extend_schema(request=s.AttestInput)
    @action(detail=True, methods=["post"])
    def attest(self, request, pk=None):
        obj = self.get_object()
        services.request_attest(request=obj, by=request.user, clause_ids=self._input(s.AttestInput)["clauses"])
        return self._respond(obj)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._respond(services.request_submit(request=self.get_object(), by=request.user))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resubmit(self, request, pk=None):
        return self._respond(services.request_resubmit(request=self.get_object(), by=request.user))

    @extend_schema(request=s.ReasonInput)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        data = self._input(s.ReasonInput)
        return self._respond(
            services.request_withdraw(request=self.get_object(), by=request.user, reason=data["reason"])
        )

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def screen(self, request, pk=None):
        return self._respond(services.request_screen(request=self.get_object(), by=request.user))

    @extend_schema(request=s.QuestionInput)
    @action(detail=True, methods=["post"], url_path="request-clarification")
    def request_clarification(self, request, pk=None):
        data = self._input(s.QuestionInput)
        return self._respond(
            services.request_clarify(request=self.get_object(), by=request.user, question=data["question"])
        )

    @extend_schema(request=s.AnswerInput)
    @action(detail=True, methods=["post"])
    def respond(self, request, pk=None):
        data = self._input(s.AnswerInput)
        return self._respond(
            services.request_respond(request=self.get_object(), by=request.user, answer=data["answer"])
        )

    @extend_schema(request=s.SendToAuditInput)
    @action(detail=True, methods=["post"], url_path="send-to-audit")
    def send_to_audit(self, request, pk=None):
        obj = self.get_object()
        data = self._input(s.SendToAuditInput)
        services.request_send_to_audit(request=obj, by=request.user, team=data["audit_team"])
        return self._respond(obj)

    @extend_schema(request=s.StartReviewInput)
    @action(detail=True, methods=["post"], url_path="start-review")
    def start_review(self, request, pk=None):
        data = self._input(s.StartReviewInput)
        return self._respond(
            services.request_start_review(request=self.get_object(), by=request.user, review_type=data["review_type"])
        )

    @extend_schema(request=s.ReasonInput)
    @action(detail=True, methods=["post"], url_path="refer-to-full-board")
    def refer_to_full_board(self, request, pk=None):
        data = self._input(s.ReasonInput)
        return self._respond(
            services.request_refer_to_full_board(request=self.get_object(), by=request.user, reason=data["reason"])
        )

    @extend_schema(request=s.AssignReviewerInput, responses=s.ReviewAssignmentSerializer)
    @action(detail=True, methods=["post"], url_path="assign-reviewer")
    def assign_reviewer(self, request, pk=None):
        data = self._input(s.AssignReviewerInput)
        assignment = services.request_assign_reviewer(
            request=self.get_object(), by=request.user, reviewer=data["reviewer"]
        )
        return Response(s.ReviewAssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ConflictInput)
    @action(detail=True, methods=["post"], url_path="declare-conflict")
    def declare_conflict(self, request, pk=None):
        obj = self.get_object()
        data = self._input(s.ConflictInput)
        services.conflict_declare(request=obj, by=request.user, **data)
        return self._respond(obj)

    @extend_schema(request=s.ReviewInput, responses=s.ReviewAssignmentSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        obj = self.get_object()
        data = self._input(s.ReviewInput)
        assignment = services.review_submit(request=obj, by=request.user, **data)
        return Response(s.ReviewAssignmentSerializer(assignment).data)

    @extend_schema(request=s.VoteInput, responses=s.VoteSerializer)
    @action(detail=True, methods=["post"])
    def vote(self, request, pk=None):
        obj = self.get_object()
        data = self._input(s.VoteInput)
        vote = services.vote_cast(request=obj, by=request.user, **data)
        return Response(s.VoteSerializer(vote).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DetermineInput)
    @action(detail=True, methods=["post"])
    def determine(self, request, pk=None):
        data = self._input(s.DetermineInput)
        conditions = [services.ConditionSpec(**condition) for condition in data.pop("conditions")]
        return self._respond(
            services.request_determine(request=self.get_object(), by=request.user, conditions=conditions, **data)
        )

    @extend_schema(request=s.TierOverrideInput)
    @action(detail=True, methods=["post"], url_path="override-tier")
    def override_tier(self, request, pk=None):
        """Set the request's risk tier by hand before review (compliance administrators), with the reason."""
        obj = self.get_object()
        require_role(request.user, Role.COMPLIANCE_ADMIN)  # before reading the input: a 403 says who may
        data = self._input(s.TierOverrideInput)
        return self._respond(
            services.request_override_tier(request=obj, tier=data["risk_tier"], reason=data["reason"], by=request.user)
        )

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path="mark-deployed")
    def mark_deployed(self, request, pk=None):
        """Report that the approved system is in clinical use; the AI system becomes “deployed”."""
        return self._respond(services.request_mark_deployed(request=self.get_object(), by=request.user))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        return self._respond(services.request_reschedule(request=self.get_object(), by=request.user))

    @extend_schema(request=s.RequiredReasonInput)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        data = self._input(s.RequiredReasonInput)
        return self._respond(
            services.request_suspend(request=self.get_object(), by=request.user, reason=data["reason"])
        )

    @extend_schema(request=s.RequiredReasonInput)
    @action(detail=True, methods=["post"])
    def reinstate(self, request, pk=None):
        data = self._input(s.RequiredReasonInput)
        return self._respond(
            services.request_reinstate(request=self.get_object(), by=request.user, reason=data["reason"])
        )

    @extend_schema(request=s.RenewInput)
    @action(detail=True, methods=["post"])
    def renew(self, request, pk=None):
        obj = self.get_object()
        data = self._input(s.RenewInput)
        return self._respond(services.request_renew(request=obj, by=request.user, **data))

    @extend_schema(request=s.RequiredReasonInput)
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        data = self._input(s.RequiredReasonInput)
        return self._respond(
            services.request_terminate(request=self.get_object(), by=request.user, reason=data["reason"])
        )

    @extend_schema(request=s.ReasonInput)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        obj = self.get_object()
        data = self._input(s.ReasonInput)
        return self._respond(services.request_close(request=obj, by=request.user, reason=data["reason"]))

    @extend_schema(request=s.AmendInput, responses={201: s.DeploymentRequestSerializer})
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        """Open an amendment (a child draft) for a new model version, a new use or another change."""
        parent = self.get_object()
        require_requester(request.user, parent)  # before reading the input: a 403 says who may
        data = self._input(s.AmendInput)
        amendment = services.amendment_create(parent=parent, by=request.user, **data)
        return self._respond(amendment, status.HTTP_201_CREATED)

    @extend_schema(request=s.IncidentInput, responses={201: s.IncidentSerializer})
    @action(detail=True, methods=["post"])
    def incidents(self, request, pk=None):
        obj = self.get_object()
        data = self._input(s.IncidentInput)
        incident = services.incident_report(request=obj, by=request.user, **data)
        return Response(s.IncidentSerializer(incident).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"multipart/form-data": s.AttachmentInput})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def attachments(self, request, pk=None):
        data = self._input(s.AttachmentInput)
        attachment = services.request_attach(
            request=self.get_object(), by=request.user, upload=data["file"], kind=data["kind"]
        )
        return Response(
            {
                "id": attachment.pk,
                "name": attachment.original_name,
                "sha256": attachment.sha256,
                "size": attachment.size,
            },
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def evaluation(self, request, pk=None):
        return Response(evaluate_request(self.get_object()).as_dict())

    @extend_schema(responses=s.EventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        events = selectors.request_timeline(request=self.get_object())
        return Response(s.EventSerializer(events, many=True).data)


class AISystemViewSet(ObjectFirst, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = AISystem.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.AISystemSerializer
    filterset_fields = ["status", "risk_tier", "hosting", "owner_department"]
    search_fields = ["name", "vendor", "model_name"]

    def get_queryset(self):
        systems = selectors.system_list(user=self.request.user)
        if self.action != "list":  # actions change the system; their answer reads the pending list afresh
            return systems
        pending = ReattestationRequest.objects.filter(completed_at__isnull=True).select_related("guideline")
        return systems.prefetch_related(
            Prefetch("reattestation_requests", queryset=pending, to_attr="pending_reattestations")
        )

    def perform_create(self, serializer):
        if not (has_role(self.request.user, Role.REQUESTER) or self.request.user.is_superuser):
            raise NotPermitted("Only requesters register AI systems.")
        serializer.instance = services.ai_system_register(by=self.request.user, **serializer.validated_data)

    @extend_schema(request=s.TierOverrideInput)
    @action(detail=True, methods=["post"], url_path="override-tier")
    def override_tier(self, request, pk=None):
        """Set the system's risk tier by hand (compliance administrators), with the reason on the record."""
        system = self.get_object()
        require_role(request.user, Role.COMPLIANCE_ADMIN)  # before reading the input: a 403 says who may
        data = self._input(s.TierOverrideInput)
        system = services.ai_system_override_tier(
            system=system, tier=data["risk_tier"], reason=data["reason"], by=request.user
        )
        return Response(self.get_serializer(system).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def reattest(self, request, pk=None):
        """The system's owner attests every clause of the guideline version in force."""
        system = services.system_reattest(system=self.get_object(), by=request.user)
        return Response(self.get_serializer(system).data)


class CommitteeViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = IRBCommittee.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.CommitteeSerializer

    def get_queryset(self):
        user = self.request.user
        if user.is_superuser or user.has_perm("governance.view_irbcommittee"):
            return IRBCommittee.objects.all()
        return selectors.committees_of(user=user)


class AuditTeamViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = AuditTeam.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.AuditTeamSerializer

    def get_queryset(self):
        user = self.request.user
        if user.is_superuser or user.has_perm("governance.view_auditteam") or has_role(user, Role.IRB_MEMBER):
            return AuditTeam.objects.all()
        return AuditTeam.objects.filter(memberships__user=user)


class MeetingViewSet(ObjectFirst, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Meeting.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.MeetingSerializer
    filterset_fields = ["committee", "status"]

    def get_queryset(self):
        return selectors.meeting_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.meeting_schedule(by=self.request.user, **serializer.validated_data)

    @extend_schema(request=s.AgendaInput)
    @action(detail=True, methods=["post"])
    def agenda(self, request, pk=None):
        data = self._input(s.AgendaInput)
        target = get_object_or_404(selectors.request_list(user=request.user), pk=data["request"].pk)
        item = services.meeting_add_to_agenda(meeting=self.get_object(), request=target, by=request.user)
        return Response(
            {"meeting": item.meeting_id, "request": item.request_id, "position": item.position},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=s.AttendanceInput)
    @action(detail=True, methods=["post"])
    def attendance(self, request, pk=None):
        data = self._input(s.AttendanceInput)
        meeting = services.meeting_record_attendance(
            meeting=self.get_object(), by=request.user, present_user_ids=data["present"]
        )
        report = services.quorum(meeting)
        return Response({**s.MeetingSerializer(meeting).data, "quorum": report.__dict__})

    @extend_schema(request=s.ReasonInput)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        meeting = services.meeting_close(
            meeting=self.get_object(), by=request.user, minutes=request.data.get("minutes", "")
        )
        return Response(s.MeetingSerializer(meeting).data)


class GuidelineViewSet(
    ComplianceAdminWrites, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Versioned guidelines. Compliance administrators write drafts and publish them; a published version's
    clauses never change — ``new-version`` starts the next draft from it."""

    serializer_class = s.GuidelineSerializer
    queryset = Guideline.objects.prefetch_related("clauses")
    filterset_fields = ["code", "status"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer):
        serializer.instance = services.guideline_create(by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("code", None)
        data.pop("version", None)
        serializer.instance = services.guideline_update(guideline=serializer.instance, by=self.request.user, **data)

    @extend_schema(request=None, responses={201: s.GuidelineSerializer})
    @action(detail=True, methods=["post"], url_path="new-version")
    def new_version(self, request, pk=None):
        draft = services.guideline_new_version(guideline=self.get_object(), by=request.user)
        return Response(s.GuidelineSerializer(draft).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        guideline = services.guideline_publish(guideline=self.get_object(), by=request.user)
        return Response(s.GuidelineSerializer(guideline).data)


class ApprovalPolicyViewSet(
    ComplianceAdminWrites, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """The evidence each risk tier's approval needs. Compliance administrators create and edit policies."""

    serializer_class = s.ApprovalPolicySerializer
    queryset = ApprovalPolicy.objects.prefetch_related("thresholds")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer):
        serializer.instance = services.approval_policy_create(by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("risk_tier", None)
        serializer.instance = services.approval_policy_update(policy=serializer.instance, by=self.request.user, **data)


class ConditionViewSet(ObjectFirst, viewsets.ReadOnlyModelViewSet):
    queryset = Condition.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.ConditionSerializer
    filterset_fields = ["status", "kind", "request"]

    def get_queryset(self):
        return Condition.objects.filter(request__in=selectors.request_list(user=self.request.user))

    @extend_schema(request=s.ConditionResolveInput)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        obj = self.get_object()
        data = self._input(s.ConditionResolveInput)
        condition = services.condition_resolve(condition=obj, by=request.user, **data)
        return Response(s.ConditionSerializer(condition).data)


class IncidentViewSet(ObjectFirst, viewsets.ReadOnlyModelViewSet):
    queryset = IncidentReport.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.IncidentSerializer
    filterset_fields = ["status", "severity", "request"]

    def get_queryset(self):
        return selectors.incident_list(user=self.request.user)

    @extend_schema(request=s.IncidentReviewInput)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        obj = self.get_object()
        data = self._input(s.IncidentReviewInput)
        incident = services.incident_review(incident=obj, by=request.user, **data)
        return Response(s.IncidentSerializer(incident).data)


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """The append-only, hash-chained event log (compliance administrators)."""

    queryset = Event.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.EventSerializer
    filterset_fields = ["verb", "request", "target_type"]

    def get_queryset(self):
        if not self.request.user.has_perm("governance.view_event"):
            return Event.objects.none()
        return Event.objects.select_related("actor").order_by("-seq")

    @extend_schema(responses={200: dict})
    @action(detail=False, methods=["get"])
    def verify(self, request):
        if not request.user.has_perm("governance.view_event"):
            raise NotPermitted("Only compliance administrators verify the event log.")
        report = verify_event_chain()
        return Response(report.__dict__)


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Notification.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.NotificationSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return self.request.user.notifications.all()

    @extend_schema(request=None)
    @action(detail=False, methods=["post"], url_path="mark-read")
    def mark_read(self, request):
        from django.utils import timezone

        count = request.user.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
        return Response({"marked": count})
