"""Benchmark pages: suites and versions, importing files, browsing items and scenarios.

Users without the benchmark view permissions see empty lists and get 404 for single objects: test items
are confidential to auditors, IRB members and compliance administrators.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.db.models.functions import Length
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from benchmark import selectors, services
from benchmark.filtersets import ItemFilterSet
from benchmark.forms import ImportForm, ItemFilterForm
from benchmark.models import BenchmarkVersion, ScenarioVersion
from benchmark.uploads import check_upload
from config.errors import ServiceError

ITEMS_PER_PAGE = 50
SCENARIOS_PER_PAGE = 100
IMPORT_PERMISSIONS = {
    ImportForm.KIND_ITEMS: "benchmark.add_benchmarksuite",
    ImportForm.KIND_SCENARIOS: "benchmark.add_scenariosuite",
}


def _can_import(user) -> bool:
    return any(user.has_perm(permission) for permission in IMPORT_PERMISSIONS.values())


@login_required
def suite_list(request):
    versions = Prefetch("versions", queryset=BenchmarkVersion.objects.order_by("-created_at", "-pk"))
    scenario_versions = Prefetch("versions", queryset=ScenarioVersion.objects.order_by("-created_at", "-pk"))
    context = {
        "suites": selectors.suite_list(user=request.user).prefetch_related(versions),
        "scenario_suites": selectors.scenario_suite_list(user=request.user).prefetch_related(scenario_versions),
        "can_import": _can_import(request.user),
    }
    return render(request, "benchmark/suite_list.html", context)


@login_required
def version_detail(request, pk):
    version = get_object_or_404(selectors.version_list(user=request.user), pk=pk)
    multiple_answer_count = version.items.annotate(answer_length=Length("answer")).filter(answer_length__gt=1).count()
    breakdown = selectors.version_breakdown(version=version)
    context = {
        "version": version,
        "breakdown": breakdown,
        "totals": {key: sum(row[key] for row in breakdown) for key in ("zh", "en", "total")},
        "multiple_answer_count": multiple_answer_count,
        "can_retire": request.user.has_perm("benchmark.add_benchmarksuite")
        and version.status == BenchmarkVersion.Status.PUBLISHED,
    }
    return render(request, "benchmark/version_detail.html", context)


def _attachment_name(*parts: str) -> str:
    # The suite name and label are user input: keep the header value to a safe character set.
    text = "-".join(parts)
    return "".join(char if char.isascii() and (char.isalnum() or char in "-_.") else "_" for char in text)[:120]


@login_required
def version_export(request, pk):
    version = get_object_or_404(selectors.version_list(user=request.user), pk=pk)
    lines = services.benchmark_version_jsonl_lines(version=version)
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{_attachment_name(version.suite.name, version.label)}.jsonl"'
    )
    return response


@login_required
@require_POST
def version_retire(request, pk):
    version = get_object_or_404(selectors.version_list(user=request.user), pk=pk)
    if not request.user.has_perm("benchmark.add_benchmarksuite"):
        raise PermissionDenied
    try:
        services.benchmark_version_retire(version=version, by=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Version %(label)s is retired: new audits can no longer use it.") % {"label": version.label},
        )
    return redirect("benchmark:version-detail", pk=version.pk)


def _suite_names(user) -> list[str]:
    names = set(selectors.suite_list(user=user).values_list("name", flat=True))
    names |= set(selectors.scenario_suite_list(user=user).values_list("name", flat=True))
    return sorted(names)


@login_required
def import_file(request):
    if not _can_import(request.user):
        raise PermissionDenied
    failure = None
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            kind = form.cleaned_data["kind"]
            if not request.user.has_perm(IMPORT_PERMISSIONS[kind]):
                raise PermissionDenied
            try:
                version = _import(form.cleaned_data, by=request.user)
            except services.ImportFailed as error:
                failure = error
            except ServiceError as error:
                form.add_error(None, error.message)
            else:
                return _imported(request, version)
        status = 400
    else:
        form = ImportForm()
    context = {"form": form, "failure": failure, "suite_names": _suite_names(request.user)}
    return render(request, "benchmark/import.html", context, status=status)


def _import(data: dict, *, by):
    upload = data["file"]
    check_upload(upload)
    if data["kind"] == ImportForm.KIND_SCENARIOS:
        return services.scenario_version_import(
            suite_name=data["suite"],
            label=data["label"] or None,
            lines=upload.open("rb"),
            filename=upload.name,
            notes=data["notes"],
            by=by,
        )
    return services.benchmark_version_import(
        suite_name=data["suite"],
        label=data["label"] or None,
        lines=upload.open("rb"),
        filename=upload.name,
        file_format=data["file_format"] or None,
        notes=data["notes"],
        by=by,
    )


def _imported(request, version):
    if isinstance(version, ScenarioVersion):
        message = _("Imported %(count)d scenarios as %(suite)s %(label)s. Content hash: %(hash)s") % {
            "count": version.scenario_count,
            "suite": version.suite.name,
            "label": version.label,
            "hash": version.content_hash,
        }
        messages.success(request, message)
        return redirect("benchmark:scenario-version-detail", pk=version.pk)
    message = _("Imported %(count)d items as %(suite)s %(label)s. Content hash: %(hash)s") % {
        "count": version.item_count,
        "suite": version.suite.name,
        "label": version.label,
        "hash": version.content_hash,
    }
    messages.success(request, message)
    return redirect("benchmark:version-detail", pk=version.pk)


@login_required
def item_list(request):
    form = ItemFilterForm(
        request.GET or None,
        versions=selectors.version_list(user=request.user).order_by("suite__name", "-created_at"),
        dimensions=selectors.dimension_list(),
    )
    queryset = selectors.item_list(user=request.user).order_by(
        "version__suite__name", "-version__created_at", "position"
    )
    filterset = ItemFilterSet(form.filter_data(), queryset=queryset)
    page = Paginator(filterset.qs, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "benchmark/item_list.html", {"form": form, "page": page})


@login_required
def item_detail(request, pk):
    item = get_object_or_404(selectors.item_list(user=request.user), pk=pk)
    options = [
        {"letter": letter, "text": text, "correct": letter in item.answer} for letter, text in item.lettered_options
    ]
    return render(request, "benchmark/item_detail.html", {"item": item, "options": options})


@login_required
def scenario_version_detail(request, pk):
    version = get_object_or_404(selectors.scenario_version_list(user=request.user).select_related("created_by"), pk=pk)
    scenarios = version.scenarios.select_related("dimension").order_by("position")
    page = Paginator(scenarios, SCENARIOS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "benchmark/scenario_version_detail.html", {"version": version, "page": page})


@login_required
def scenario_version_export(request, pk):
    version = get_object_or_404(selectors.scenario_version_list(user=request.user), pk=pk)
    lines = services.scenario_version_jsonl_lines(version=version)
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{_attachment_name(version.suite.name, version.label)}.jsonl"'
    )
    return response
