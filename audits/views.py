"""Audit and endpoint pages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audits import reports, selectors, services
from audits.filtersets import AuditFilterSet, ConversationResultFilterSet, ItemResultFilterSet
from audits.forms import AdjudicationForm, AuditForm, EndpointForm, ScheduleForm
from audits.models import Audit, AuditSchedule, ConversationResult
from audits.presentation import audit_chart, dimensions_in_order, robustness_table, score_lines
from benchmark.formats import LETTERS
from benchmark.models import BenchmarkVersion, Dimension, ScenarioVersion
from config.errors import ServiceError


@login_required
def audit_list(request):
    filterset = AuditFilterSet(request.GET, queryset=selectors.audit_rows(user=request.user).order_by("-created_at"))
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "audits/audit_list.html",
        {
            "page": page,
            "filterset": filterset,
            "can_run": selectors.can_run_audits(request.user),
        },
    )


@login_required
def audit_create(request):
    if not selectors.can_run_audits(request.user):
        raise Http404
    form = AuditForm(
        request.POST or None,
        initial={"endpoint": request.GET.get("endpoint")},
        endpoints=selectors.endpoint_list(user=request.user),
        versions=BenchmarkVersion.objects.filter(status="published").select_related("suite"),
        scenario_versions=ScenarioVersion.objects.filter(status="published").select_related("suite"),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            audit = services.audit_create_and_queue(
                endpoint=data["endpoint"],
                benchmark_version=data["benchmark_version"],
                scenario_version=data["scenario_version"],
                judge_endpoint=data["judge_endpoint"],
                dimension_codes=[d.code for d in data["dimensions"]],
                sample_size=data["sample_size"],
                sample_seed=data["sample_seed"] or 0,
                shuffle_seed=data["shuffle_seed"],
                variant_codes=data["variants"],
                requested_by=request.user,
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Audit #%(pk)s queued for the workers.") % {"pk": audit.pk})
            return redirect("audits:audit-detail", pk=audit.pk)
    return render(request, "audits/audit_form.html", {"form": form})


@login_required
def audit_detail(request, pk):
    audit = selectors.audit_get(user=request.user, pk=pk)
    context = {
        "object": audit,
        "progress": reports.progress(audit),
        "can_run": selectors.can_run_audits(request.user, audit),
    }
    if audit.summary:
        dimensions = dimensions_in_order()
        lines = score_lines(audit, dimensions=dimensions)
        context.update(
            {
                "lines": lines,
                "chart": audit_chart(audit, lines["dimensions"]),
                "comparison": audit.summary.get("comparison"),
                "robustness": robustness_table(audit, dimensions=dimensions),
                "adjudication": audit.summary.get("adjudication"),
            }
        )
    return render(request, "audits/audit_detail.html", context)


@login_required
def audit_progress(request, pk):
    return JsonResponse(reports.progress(selectors.audit_get(user=request.user, pk=pk)))


def _runnable(request, pk) -> Audit:
    audit = selectors.audit_get(user=request.user, pk=pk)
    if not selectors.can_run_audits(request.user, audit):
        raise Http404
    return audit


@login_required
@require_POST
def audit_start(request, pk):
    audit = _runnable(request, pk)
    try:
        services.audit_queue(audit=audit, by=request.user)
        messages.success(request, _("Audit #%(pk)s queued.") % {"pk": audit.pk})
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("audits:audit-detail", pk=pk)


@login_required
@require_POST
def audit_cancel(request, pk):
    audit = _runnable(request, pk)
    try:
        services.audit_cancel(audit=audit, by=request.user)
        messages.success(request, _("Audit cancelled; the results so far are kept."))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("audits:audit-detail", pk=pk)


@login_required
@require_POST
def audit_rescore(request, pk):
    audit = _runnable(request, pk)
    try:
        services.audit_rescore(audit=audit, by=request.user)
        messages.success(request, _("Re-scored with the current parser."))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("audits:audit-detail", pk=pk)


@login_required
def audit_export(request, pk, fmt):
    audit = selectors.audit_get(user=request.user, pk=pk)
    if fmt not in ("csv", "jsonl"):
        raise Http404
    lines = reports.export_csv(audit) if fmt == "csv" else reports.export_jsonl(audit)
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="audit-{audit.pk}.{fmt}"'
    return response


@login_required
def audit_results(request, pk):
    audit = selectors.audit_get(user=request.user, pk=pk)
    queryset = audit.item_results.select_related("item__dimension").order_by("id")
    filterset = ItemResultFilterSet(request.GET, queryset=queryset)
    page = Paginator(filterset.qs, 25).get_page(request.GET.get("page"))
    rows = []
    for result in page.object_list:
        item = result.item
        rows.append({"result": result, "item": item, "options": list(zip(LETTERS, item.options, strict=False))})
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audits/audit_results.html",
        {
            "object": audit,
            "page": page,
            "rows": rows,
            "filterset": filterset,
            "query": query.urlencode(),
            "dimensions": Dimension.objects.all(),
            "outcomes": ["correct", "wrong", "refused", "unparseable", "empty", "error"],
        },
    )


@login_required
def audit_conversations(request, pk):
    audit = selectors.audit_get(user=request.user, pk=pk)
    queryset = audit.conversation_results.select_related("scenario__dimension").order_by("id")
    filterset = ConversationResultFilterSet(request.GET, queryset=queryset)
    page = Paginator(filterset.qs, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audits/audit_conversations.html",
        {
            "object": audit,
            "page": page,
            "filterset": filterset,
            "query": query.urlencode(),
        },
    )


@login_required
def conversation_detail(request, pk):
    result = get_object_or_404(
        ConversationResult.objects.select_related("scenario__dimension", "audit__endpoint", "human_by"),
        pk=pk,
        audit__in=selectors.audit_list(user=request.user).values("pk"),
    )
    can_grade = selectors.can_run_audits(request.user, result.audit) and result.final_verdict != "error"
    form = AdjudicationForm(request.POST or None)
    if request.method == "POST" and can_grade and form.is_valid():
        try:
            services.conversation_adjudicate(result=result, by=request.user, **form.cleaned_data)
            messages.success(request, _("Grade recorded; it overrides the rules and the judge."))
        except ServiceError as exc:
            messages.error(request, exc.message)
        next_item = selectors.adjudication_queue(user=request.user).filter(human_verdict="").exclude(pk=pk).first()
        return (
            redirect("audits:conversation-detail", pk=next_item.pk)
            if next_item
            else redirect("audits:adjudication-queue")
        )
    return render(request, "audits/conversation_detail.html", {"object": result, "form": form if can_grade else None})


@login_required
def adjudication_queue(request):
    queue = selectors.adjudication_queue(user=request.user)
    page = Paginator(queue, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "audits/adjudication_queue.html",
        {
            "page": page,
            "pending": queue.filter(human_verdict="").count(),
        },
    )


@login_required
def endpoint_list(request):
    return render(
        request,
        "audits/endpoint_list.html",
        {
            "endpoints": selectors.endpoint_list(user=request.user),
            "can_create": request.user.has_perm("audits.add_modelendpoint"),
        },
    )


@login_required
def endpoint_create(request):
    if not request.user.has_perm("audits.add_modelendpoint"):
        raise Http404
    return _endpoint_form(request, None)


@login_required
def endpoint_edit(request, pk):
    endpoint = selectors.endpoint_get(user=request.user, pk=pk)
    if not (request.user.is_superuser or request.user.has_perm("audits.change_modelendpoint", endpoint)):
        raise Http404
    return _endpoint_form(request, endpoint)


def _endpoint_form(request, endpoint):
    form = EndpointForm(request.POST or None, instance=endpoint)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        name = endpoint.name if endpoint else data.pop("name")
        data.pop("name", None)
        api_key = data.pop("api_key") or None
        api_key_env = data.pop("api_key_env") or None
        try:
            saved, _created = services.endpoint_register(
                name=name, by=request.user, api_key=api_key, api_key_env=api_key_env, **data
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("audits:endpoint-detail", pk=saved.pk)
    return render(request, "audits/endpoint_form.html", {"form": form, "object": endpoint})


@login_required
def endpoint_detail(request, pk):
    endpoint = selectors.endpoint_get(user=request.user, pk=pk)
    can_schedule = request.user.has_perm("audits.add_auditschedule")
    form = ScheduleForm(request.POST or None)
    if request.method == "POST" and can_schedule and form.is_valid():
        schedule = form.save(commit=False)
        schedule.endpoint, schedule.created_by = endpoint, request.user
        schedule.save()
        messages.success(request, _("Recurring audit scheduled."))
        return redirect("audits:endpoint-detail", pk=pk)
    return render(
        request,
        "audits/endpoint_detail.html",
        {
            "object": endpoint,
            "audits": selectors.audit_rows(user=request.user).filter(endpoint=endpoint).order_by("-created_at")[:20],
            "schedules": AuditSchedule.objects.filter(endpoint=endpoint).select_related("suite"),
            "schedule_form": form if can_schedule else None,
            "can_test": selectors.can_run_audits(request.user),
            "probe": request.session.pop(f"probe-{pk}", None),
        },
    )


@login_required
@require_POST
def endpoint_test(request, pk):
    endpoint = selectors.endpoint_get(user=request.user, pk=pk)
    if not selectors.can_run_audits(request.user):
        raise Http404
    result = services.endpoint_test_connection(endpoint=endpoint, by=request.user)
    request.session[f"probe-{pk}"] = result.as_dict()
    return redirect("audits:endpoint-detail", pk=pk)
