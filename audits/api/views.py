from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from audits import reports, selectors, services
from audits.api import serializers as s
from audits.filtersets import AuditFilterSet, ConversationResultFilterSet, ItemResultFilterSet
from audits.models import Audit, AuditSchedule, ConversationResult, ModelEndpoint
from config.errors import NotPermitted


class ModelEndpointViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Registered model endpoints. API keys are write-only and stored encrypted."""

    queryset = ModelEndpoint.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.ModelEndpointSerializer
    filterset_fields = ["kind", "team", "ai_system"]
    search_fields = ["name", "model", "base_url"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.endpoint_list(user=self.request.user)

    def perform_create(self, serializer):
        if not self.request.user.has_perm("audits.add_modelendpoint"):
            raise NotPermitted("Only auditors register endpoints.")
        data = dict(serializer.validated_data)
        name = data.pop("name")
        api_key = data.pop("api_key", None) or None
        api_key_env = data.pop("api_key_env", None) or None
        serializer.instance, _created = services.endpoint_register(
            name=name, by=self.request.user, api_key=api_key, api_key_env=api_key_env, **data
        )

    def perform_update(self, serializer):
        endpoint = serializer.instance
        if not (self.request.user.is_superuser or self.request.user.has_perm("audits.change_modelendpoint", endpoint)):
            raise NotPermitted("You may not change this endpoint.")
        data = dict(serializer.validated_data)
        data.pop("name", None)
        api_key = data.pop("api_key", None) or None
        api_key_env = data.pop("api_key_env", None) or None
        serializer.instance, _created = services.endpoint_register(
            name=endpoint.name, by=self.request.user, api_key=api_key, api_key_env=api_key_env, **data
        )

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk=None):
        endpoint = self.get_object()
        if not request.user.has_perm("audits.add_audit"):
            raise NotPermitted("Only auditors test endpoints.")
        return Response(services.endpoint_test_connection(endpoint=endpoint, by=request.user).as_dict())


class AuditViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Audit.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.AuditSerializer
    filterset_class = AuditFilterSet
    ordering_fields = ["created_at", "finished_at", "status"]

    def get_queryset(self):
        return selectors.audit_list(user=self.request.user).order_by("-created_at")

    def _require_runner(self, audit=None):
        if not selectors.can_run_audits(self.request.user, audit):
            raise NotPermitted("Only the audit team may run or change this audit.")

    @extend_schema(request=s.AuditCreateSerializer, responses={201: s.AuditSerializer})
    def create(self, request, *args, **kwargs):
        self._require_runner()
        serializer = s.AuditCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        endpoint = get_object_or_404(selectors.endpoint_list(user=request.user), pk=data.pop("endpoint").pk)
        judge = data.pop("judge_endpoint", None)
        if judge is not None:
            judge = get_object_or_404(selectors.endpoint_list(user=request.user), pk=judge.pk)
        request_id = data.pop("deployment_request", None)
        deployment_request = None
        if request_id:
            from governance.selectors import request_get

            deployment_request = request_get(user=request.user, pk=request_id)
        start = data.pop("start")
        if not data.get("benchmark_version") and not data.get("scenario_version"):
            raise ValidationError({"benchmark_version": "Give a benchmark version or a scenario version."})
        audit = services.audit_create(
            endpoint=endpoint,
            judge_endpoint=judge,
            requested_by=request.user,
            deployment_request=deployment_request,
            **data,
        )
        if start:
            audit = services.audit_queue(audit=audit, by=request.user)
        return Response(s.AuditSerializer(Audit.objects.get(pk=audit.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        audit = self.get_object()
        self._require_runner(audit)
        services.audit_queue(audit=audit, by=request.user)
        return Response(s.AuditSerializer(Audit.objects.get(pk=audit.pk)).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        audit = self.get_object()
        self._require_runner(audit)
        services.audit_cancel(audit=audit, by=request.user)
        return Response(s.AuditSerializer(Audit.objects.get(pk=audit.pk)).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def rescore(self, request, pk=None):
        audit = self.get_object()
        self._require_runner(audit)
        audit = services.audit_rescore(audit=audit, by=request.user)
        return Response(s.AuditSerializer(audit).data)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        return Response(reports.progress(self.get_object()))

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def report(self, request, pk=None):
        return Response(reports.audit_report_document(self.get_object()))

    @extend_schema(
        parameters=[
            OpenApiParameter("with", OpenApiTypes.INT, required=True, description="the other audit"),
            OpenApiParameter("correction", str, enum=["holm", "bh"]),
        ],
        responses={200: dict},
    )
    @action(detail=True, methods=["get"])
    def compare(self, request, pk=None):
        audit = self.get_object()
        other_id = request.query_params.get("with")
        if not other_id or not other_id.isdigit():
            raise ValidationError({"with": "Give the id of the audit to compare with."})
        other = get_object_or_404(self.get_queryset(), pk=int(other_id))
        correction = request.query_params.get("correction", "holm")
        if correction not in ("holm", "bh"):
            raise ValidationError({"correction": "holm or bh"})
        try:
            return Response(reports.compare_audits(other, audit, correction=correction))
        except ValueError as exc:
            raise ValidationError({"with": str(exc)}) from None

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["csv", "jsonl"])], responses={(200, "text/csv"): bytes}
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        audit = self.get_object()
        fmt = request.query_params.get("format", "csv")
        if fmt not in ("csv", "jsonl"):
            raise ValidationError({"format": "csv or jsonl"})
        lines = reports.export_csv(audit) if fmt == "csv" else reports.export_jsonl(audit)
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
        response = StreamingHttpResponse(lines, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="audit-{audit.pk}.{fmt}"'
        return response

    @extend_schema(responses=s.ItemResultSerializer(many=True))
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        audit = self.get_object()
        queryset = ItemResultFilterSet(request.query_params, queryset=audit.item_results.select_related("item")).qs
        page = self.paginate_queryset(queryset.order_by("id"))
        return self.get_paginated_response(s.ItemResultSerializer(page, many=True).data)

    @extend_schema(responses=s.ConversationResultSerializer(many=True))
    @action(detail=True, methods=["get"])
    def conversations(self, request, pk=None):
        audit = self.get_object()
        queryset = ConversationResultFilterSet(
            request.query_params, queryset=audit.conversation_results.select_related("scenario")
        ).qs
        page = self.paginate_queryset(queryset.order_by("id"))
        return self.get_paginated_response(s.ConversationResultSerializer(page, many=True).data)


class AdjudicationViewSet(viewsets.ReadOnlyModelViewSet):
    """Simulated conversations waiting for a person's grade: a sample, and every rule/judge disagreement."""

    queryset = ConversationResult.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.ConversationResultSerializer
    filterset_class = ConversationResultFilterSet

    def get_queryset(self):
        return selectors.adjudication_queue(user=self.request.user)

    @extend_schema(request=s.AdjudicationInput, responses=s.ConversationResultSerializer)
    @action(detail=True, methods=["post"])
    def grade(self, request, pk=None):
        result = self.get_object()
        if not selectors.can_run_audits(request.user, result.audit):
            raise NotPermitted("Only the audit team grades this audit's conversations.")
        data = s.AdjudicationInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.conversation_adjudicate(result=result, by=request.user, **data.validated_data)
        return Response(s.ConversationResultSerializer(result).data)


class AuditScheduleViewSet(viewsets.ModelViewSet):
    queryset = AuditSchedule.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = s.AuditScheduleSerializer
    filterset_fields = ["endpoint", "enabled"]

    def get_queryset(self):
        return AuditSchedule.objects.filter(endpoint__in=selectors.endpoint_list(user=self.request.user))

    def perform_create(self, serializer):
        if not self.request.user.has_perm("audits.add_auditschedule"):
            raise NotPermitted("Only auditors schedule audits.")
        endpoint = serializer.validated_data["endpoint"]
        get_object_or_404(selectors.endpoint_list(user=self.request.user), pk=endpoint.pk)
        serializer.save(created_by=self.request.user)

    def perform_update(self, serializer):
        if not self.request.user.has_perm("audits.change_auditschedule") and not self.request.user.has_perm(
            "audits.add_auditschedule"
        ):
            raise NotPermitted("Only auditors and compliance administrators change schedules.")
        serializer.save()

    def perform_destroy(self, instance):
        if not self.request.user.has_perm("audits.add_auditschedule"):
            raise NotPermitted("Only auditors remove schedules.")
        instance.delete()
