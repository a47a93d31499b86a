from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from benchmark import selectors, services
from benchmark.api.serializers import (
    BenchmarkImportSerializer,
    BenchmarkSuiteSerializer,
    BenchmarkVersionSerializer,
    DimensionSerializer,
    ImportProblemSerializer,
    ItemSerializer,
)
from benchmark.filtersets import BenchmarkVersionFilterSet, ItemFilterSet
from benchmark.models import BenchmarkSuite, BenchmarkVersion, Dimension, Item
from benchmark.uploads import check_upload
from config.errors import NotPermitted
from config.permissions import ModelPermissions


class DimensionViewSet(viewsets.ReadOnlyModelViewSet):
    """The taxonomy: 11 ethics and 9 safety dimensions (codes are stable)."""

    queryset = Dimension.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = DimensionSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = None
    filterset_fields = ["category", "is_active"]

    def get_queryset(self):
        return selectors.dimension_list()


class BenchmarkSuiteViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = BenchmarkSuite.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = BenchmarkSuiteSerializer
    permission_classes = [ModelPermissions]
    search_fields = ["name", "description"]

    def get_queryset(self):
        return selectors.suite_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)


class BenchmarkVersionViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = BenchmarkVersion.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = BenchmarkVersionSerializer
    permission_classes = [ModelPermissions]
    filterset_class = BenchmarkVersionFilterSet
    ordering_fields = ["created_at", "label"]

    def get_queryset(self):
        return selectors.version_list(user=self.request.user)

    @extend_schema(
        request={"multipart/form-data": BenchmarkImportSerializer},
        responses={
            201: BenchmarkVersionSerializer,
            400: OpenApiResponse(ImportProblemSerializer(many=True), description="Every problem, with line numbers"),
        },
        description="Import a JSONL or CSV file as a new published version. All or nothing.",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser],
        permission_classes=[IsAuthenticated],  # checked below: importing needs benchmark.add_benchmarksuite
    )
    def import_file(self, request):
        if not request.user.has_perm("benchmark.add_benchmarksuite"):
            raise NotPermitted("You may not import benchmark content.")
        serializer = BenchmarkImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        check_upload(upload)
        try:
            version = services.benchmark_version_import(
                suite_name=serializer.validated_data["suite"],
                label=serializer.validated_data.get("label") or None,
                lines=upload.open("rb"),
                filename=upload.name,
                file_format=serializer.validated_data.get("format"),
                notes=serializer.validated_data.get("notes", ""),
                by=request.user,
            )
        except services.ImportFailed as failure:
            return Response(
                {"detail": failure.message, "problems": failure.details}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response(BenchmarkVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/x-ndjson"): bytes})
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        version = get_object_or_404(self.get_queryset(), pk=pk)
        lines = services.benchmark_version_jsonl_lines(version=version)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{_safe(version.suite.name)}-{_safe(version.label)}.jsonl"'
        )
        return response

    @extend_schema(request=None, responses=BenchmarkVersionSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def retire(self, request, pk=None):
        version = get_object_or_404(self.get_queryset(), pk=pk)
        if not request.user.has_perm("benchmark.add_benchmarksuite"):
            raise NotPermitted("You may not retire benchmark versions.")
        version = services.benchmark_version_retire(version=version, by=request.user)
        return Response(BenchmarkVersionSerializer(version).data)


def _safe(text: str) -> str:
    return "".join(char if char.isalnum() or char in "-_." else "_" for char in text)[:80]


class ItemViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Item.objects.none()  # for the schema; get_queryset() filters per user
    serializer_class = ItemSerializer
    permission_classes = [ModelPermissions]
    filterset_class = ItemFilterSet
    ordering_fields = ["position", "external_id"]

    def get_queryset(self):
        return selectors.item_list(user=self.request.user).order_by("version", "position")
