"""Governance pages. Views parse input, call one selector or service, and render or redirect."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from audits.selectors import endpoint_list
from config.errors import ServiceError
from governance import forms, permissions, selectors, services
from governance.evidence import evidence_for
from governance.filtersets import DeploymentRequestFilterSet
from governance.models import (
    AISystem,
    ApprovalPolicy,
    Attestation,
    CommitteeMembership,
    Condition,
    DeploymentRequest,
    Event,
    Guideline,
    RiskTier,
    Role,
)
from governance.policy import evaluate_request
from governance.roles import has_role


@login_required
def home(request):
    return render(request, "governance/home.html", selectors.home_queues(user=request.user))


@login_required
def notification_list(request):
    if request.method == "POST":
        request.user.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("governance:notification-list")
    notifications = request.user.notifications.all()[:200]
    return render(request, "governance/notification_list.html", {"notifications": notifications})


# --- Deployment requests ------------------------------------------------------------------------------------


@login_required
def request_list(request):
    filterset = DeploymentRequestFilterSet(request.GET, queryset=selectors.request_list(user=request.user))
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "governance/request_list.html",
        {
            "filterset": filterset,
            "page": page,
            "query": query.urlencode(),
            "can_create": has_role(request.user, Role.REQUESTER),
        },
    )


@login_required
def request_create(request):
    if not has_role(request.user, Role.REQUESTER):
        raise Http404
    systems = selectors.system_list(user=request.user)
    form = forms.IntakeForm(
        request.POST or None,
        systems=systems,
        endpoints=endpoint_list(user=request.user) | _endpoints_of_systems(systems),
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            created = services.request_create(
                by=request.user, ai_system=data.pop("ai_system"), endpoints=list(data.pop("endpoints")), **data
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("Draft %(ref)s saved. Next: attest the data-ethics guideline.") % {"ref": created.reference}
            )
            return redirect("governance:request-attest", pk=created.pk)
    return render(request, "governance/request_form.html", {"form": form, "step": 1})


def _endpoints_of_systems(systems):
    from audits.models import ModelEndpoint

    return ModelEndpoint.objects.filter(ai_system__in=systems)


@login_required
def request_edit(request, pk):
    obj = selectors.request_get(user=request.user, pk=pk)
    if "edit" not in permissions.available_actions(request.user, obj):
        raise Http404
    endpoints = endpoint_list(user=request.user) | _endpoints_of_systems(selectors.system_list(user=request.user))
    form = forms.IntakeForm(request.POST or None, instance=obj, endpoints=endpoints)
    if request.method == "POST" and form.is_valid():
        data = {name: value for name, value in form.cleaned_data.items() if name != "endpoints"}
        try:
            services.request_update(
                request=obj, by=request.user, endpoints=list(form.cleaned_data["endpoints"]), **data
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("governance:request-detail", pk=obj.pk)
    return render(request, "governance/request_form.html", {"form": form, "object": obj, "step": 1})


@login_required
def request_attest(request, pk):
    obj = selectors.request_get(user=request.user, pk=pk)
    guideline = services.current_guideline()
    if guideline is None:
        messages.error(request, _("No data-ethics guideline is in force yet."))
        return redirect("governance:request-detail", pk=pk)
    clauses = list(guideline.clauses.all())
    attested = set(
        Attestation.objects.filter(deployment_request=obj, user=obj.requester, guideline=guideline).values_list(
            "clause_id", flat=True
        )
    )
    form = forms.AttestationForm(request.POST or None, clauses=clauses, attested=attested)
    if request.method == "POST" and form.is_valid():
        try:
            services.request_attest(request=obj, by=request.user, clause_ids=form.chosen_clause_ids())
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            missing = services.missing_attestations(obj)
            if missing:
                messages.warning(
                    request, _("%(n)d clause(s) still to attest before you can submit.") % {"n": len(missing)}
                )
                return redirect("governance:request-attest", pk=pk)
            messages.success(request, _("All clauses attested. Review your request and submit it."))
            return redirect("governance:request-detail", pk=pk)
    return render(
        request,
        "governance/request_attest.html",
        {
            "object": obj,
            "guideline": guideline,
            "form": form,
            "attested": attested,
            "step": 2,
            "can_attest": obj.requester_id == request.user.pk,
        },
    )


STEPS = [
    ("draft", _lazy("Draft")),
    ("submitted", _lazy("Submitted")),
    ("screening", _lazy("Screening")),
    ("auditing", _lazy("Auditing")),
    ("review", _lazy("Review")),
    ("determination", _lazy("Determination")),
    ("active", _lazy("Approved")),
]


def _step_states(obj: DeploymentRequest) -> list[dict]:
    S = DeploymentRequest.Status
    order = {
        "draft": 0,
        "submitted": 1,
        "screening": 2,
        "clarification_requested": 2,
        "auditing": 3,
        "expedited_review": 4,
        "full_board_review": 4,
        "deferred": 4,
        "modifications_required": 5,
        "disapproved": 5,
        "withdrawn": 1,
        "active": 6,
        "continuing_review_due": 6,
        "suspended": 6,
        "expired": 6,
        "terminated": 6,
        "closed": 6,
    }
    current = order.get(obj.status, 0)
    steps = []
    for index, (key, label) in enumerate(STEPS):
        state = "done" if index < current else ("current" if index == current else "")
        steps.append({"key": key, "label": label, "state": state})
    if obj.status in (S.DISAPPROVED, S.WITHDRAWN):
        steps[-1]["label"] = obj.get_status_display()
    return steps


WAITING_ON = {
    "draft": _lazy("the requester to complete the intake, attest and submit"),
    "submitted": _lazy("the committee secretary to screen it"),
    "screening": _lazy("the committee secretary to send it for audit or review"),
    "clarification_requested": _lazy("the requester to answer the committee's question"),
    "auditing": _lazy("the audit team to run the required audits"),
    "expedited_review": _lazy("the assigned reviewer"),
    "full_board_review": _lazy("the full board to vote at a meeting"),
    "modifications_required": _lazy("the requester to revise and resubmit"),
    "deferred": _lazy("the secretary to put it on a future agenda"),
    "continuing_review_due": _lazy("the chair's continuing review"),
    "suspended": _lazy("the committee to reinstate or terminate it"),
}


@login_required
def request_detail(request, pk):
    obj = selectors.request_get(user=request.user, pk=pk)
    actions = permissions.available_actions(request.user, obj)
    context = {
        "object": obj,
        "actions": actions,
        "steps": _step_states(obj),
        "waiting_on": WAITING_ON.get(obj.status, ""),
        "timeline": selectors.request_timeline(request=obj),
        "clarifications": obj.clarifications.select_related("author"),
        "attachments": obj.attachments.all(),
        "conditions": obj.conditions.select_related("owner"),
        "incidents": obj.incidents.select_related("reporter"),
        "endpoints": obj.endpoints.all(),
        "missing_attestations": services.missing_attestations(obj)
        if obj.status in ("draft", "modifications_required")
        else [],
        "evaluation": evaluate_request(obj) if obj.status != "draft" else None,
        "amendments": obj.amendments.all(),
        "forms": _action_forms(obj, actions),
    }
    return render(request, "governance/request_detail.html", context)


def _action_forms(obj: DeploymentRequest, actions: list[str]) -> dict:
    built = {}
    if "request_clarification" in actions:
        built["request_clarification"] = forms.TextForm()
    if "respond" in actions:
        built["respond"] = forms.TextForm()
    if "send_to_audit" in actions:
        built["send_to_audit"] = forms.SendToAuditForm(initial={"team": obj.ai_system.audit_team_id})
    if "start_review" in actions:
        built["start_review"] = forms.StartReviewForm()
    if "assign_reviewer" in actions:
        built["assign_reviewer"] = forms.AssignReviewerForm(committee=obj.committee)
    if "declare_conflict" in actions:
        built["declare_conflict"] = forms.ConflictForm()
    if "review" in actions:
        built["review"] = forms.ReviewForm()
    if "vote" in actions:
        built["vote"] = forms.VoteForm()
    if "determine" in actions:
        built["determine"] = forms.DeterminationForm()
    if "renew" in actions:
        built["renew"] = forms.RenewForm()
    if "report_incident" in actions:
        built["report_incident"] = forms.IncidentForm(
            initial={"occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}
        )
    for name in ("suspend", "reinstate", "terminate", "close", "withdraw", "refer_to_full_board"):
        if name in actions:
            built[name] = forms.ReasonForm()
    if "attest" in actions:
        built["attach"] = forms.AttachmentForm()
    if "amend" in actions:
        built["amend"] = forms.AmendmentForm()
    if "override_tier" in actions:
        built["override_tier"] = forms.TierOverrideForm(initial={"risk_tier": obj.risk_tier})
    return built


def _conditions_from(data) -> list:
    if not data.get("condition_text"):
        return []
    return [
        services.ConditionSpec(
            text=data["condition_text"],
            kind=data.get("condition_kind") or Condition.Kind.FREE_TEXT,
            source=data.get("condition_source") or Condition.Source.ANY,
            days=data.get("condition_days"),
            dimension_code=data.get("condition_dimension") or "",
            threshold=data.get("condition_threshold"),
            on_breach=data.get("condition_on_breach") or Condition.OnBreach.FLAG,
            due_date=data.get("condition_due_date"),
        )
    ]


def _action(form_class, call, message):
    return {"form": form_class, "call": call, "message": message}


# Each workflow action: the form it takes, the service call (request, user, cleaned data), the success message.
ACTIONS = {
    "submit": _action(
        None, lambda o, u, d: services.request_submit(request=o, by=u), _lazy("Submitted to the committee.")
    ),
    "resubmit": _action(None, lambda o, u, d: services.request_resubmit(request=o, by=u), _lazy("Resubmitted.")),
    "withdraw": _action(
        forms.ReasonForm,
        lambda o, u, d: services.request_withdraw(request=o, by=u, reason=d["reason"]),
        _lazy("Withdrawn."),
    ),
    "screen": _action(None, lambda o, u, d: services.request_screen(request=o, by=u), _lazy("Screening started.")),
    "request_clarification": _action(
        forms.TextForm,
        lambda o, u, d: services.request_clarify(request=o, by=u, question=d["text"]),
        _lazy("Question sent to the requester."),
    ),
    "respond": _action(
        forms.TextForm,
        lambda o, u, d: services.request_respond(request=o, by=u, answer=d["text"]),
        _lazy("Answer sent to the committee."),
    ),
    "send_to_audit": _action(
        forms.SendToAuditForm,
        lambda o, u, d: services.request_send_to_audit(request=o, by=u, team=d["team"]),
        _lazy("The audit team has been asked to run the required audits."),
    ),
    "start_review": _action(
        forms.StartReviewForm,
        lambda o, u, d: services.request_start_review(request=o, by=u, review_type=d["review_type"]),
        _lazy("Review started."),
    ),
    "refer_to_full_board": _action(
        forms.ReasonForm,
        lambda o, u, d: services.request_refer_to_full_board(request=o, by=u, reason=d["reason"]),
        _lazy("Referred to the full board."),
    ),
    "assign_reviewer": _action(
        forms.AssignReviewerForm,
        lambda o, u, d: services.request_assign_reviewer(request=o, by=u, reviewer=d["reviewer"]),
        _lazy("Reviewer assigned."),
    ),
    "declare_conflict": _action(
        forms.ConflictForm,
        lambda o, u, d: services.conflict_declare(request=o, by=u, has_conflict=d["has_conflict"], reason=d["reason"]),
        _lazy("Declaration recorded."),
    ),
    "review": _action(
        forms.ReviewForm,
        lambda o, u, d: services.review_submit(
            request=o, by=u, recommendation=d["recommendation"], comments=d["comments"]
        ),
        _lazy("Review submitted."),
    ),
    "vote": _action(
        forms.VoteForm,
        lambda o, u, d: services.vote_cast(request=o, by=u, choice=d["choice"], comment=d["comment"]),
        _lazy("Vote recorded."),
    ),
    "determine": _action(
        forms.DeterminationForm,
        lambda o, u, d: services.request_determine(
            request=o,
            by=u,
            determination=d["determination"],
            rationale=d["rationale"],
            override_justification=d["override_justification"],
            conditions=_conditions_from(d),
        ),
        _lazy("Determination recorded."),
    ),
    "mark_deployed": _action(
        None,
        lambda o, u, d: services.request_mark_deployed(request=o, by=u),
        _lazy("Recorded: the system is in clinical use."),
    ),
    "override_tier": _action(
        forms.TierOverrideForm,
        lambda o, u, d: services.request_override_tier(request=o, by=u, tier=d["risk_tier"], reason=d["reason"]),
        _lazy("The risk tier was changed; the reason is on the record."),
    ),
    "reschedule": _action(
        None, lambda o, u, d: services.request_reschedule(request=o, by=u), _lazy("Back in full-board review.")
    ),
    "suspend": _action(
        forms.ReasonForm,
        lambda o, u, d: services.request_suspend(request=o, by=u, reason=d["reason"]),
        _lazy("Suspended."),
    ),
    "reinstate": _action(
        forms.ReasonForm,
        lambda o, u, d: services.request_reinstate(request=o, by=u, reason=d["reason"]),
        _lazy("Reinstated."),
    ),
    "renew": _action(
        forms.RenewForm,
        lambda o, u, d: services.request_renew(
            request=o, by=u, rationale=d["rationale"], override_justification=d["override_justification"]
        ),
        _lazy("Renewed."),
    ),
    "terminate": _action(
        forms.ReasonForm,
        lambda o, u, d: services.request_terminate(request=o, by=u, reason=d["reason"]),
        _lazy("Terminated."),
    ),
    "close": _action(
        forms.ReasonForm, lambda o, u, d: services.request_close(request=o, by=u, reason=d["reason"]), _lazy("Closed.")
    ),
    "report_incident": _action(
        forms.IncidentForm,
        lambda o, u, d: services.incident_report(
            request=o, by=u, severity=d["severity"], description=d["description"], occurred_at=d["occurred_at"]
        ),
        _lazy("Incident reported to the committee."),
    ),
}


@login_required
@require_POST
def request_action(request, pk, action):
    obj = selectors.request_get(user=request.user, pk=pk)
    if action == "amend":
        form = forms.AmendmentForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Say what the amendment changes."))
            return redirect("governance:request-detail", pk=pk)
        fields = {name: value for name, value in form.cleaned_data.items() if value}
        try:
            amendment = services.amendment_create(parent=obj, by=request.user, **fields)
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect("governance:request-detail", pk=pk)
        messages.success(request, _("Amendment %(ref)s opened as a draft.") % {"ref": amendment.reference})
        return redirect("governance:request-detail", pk=amendment.pk)
    if action == "attach":
        form = forms.AttachmentForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                services.request_attach(
                    request=obj, by=request.user, upload=form.cleaned_data["file"], kind=form.cleaned_data["kind"]
                )
                messages.success(request, _("Attachment added."))
            except ServiceError as exc:
                messages.error(request, exc.message)
        else:
            messages.error(request, _("Choose a file to attach."))
        return redirect("governance:request-detail", pk=pk)
    if action not in ACTIONS:
        raise Http404
    spec = ACTIONS[action]
    form_class = spec["form"]
    data = {}
    if form_class is not None:
        kwargs = {"committee": obj.committee} if form_class is forms.AssignReviewerForm else {}
        form = form_class(request.POST, **kwargs)
        if not form.is_valid():
            errors = "; ".join(
                f"{form.fields[name].label if name in form.fields else name}: {' '.join(map(str, e))}"
                for name, e in form.errors.items()
            )
            messages.error(request, _("Check the form: %(errors)s") % {"errors": errors})
            return _back(request, pk)
        data = form.cleaned_data
    try:
        spec["call"](obj, request.user, data)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, spec["message"])
    return _back(request, pk)


def _back(request, pk):
    target = request.POST.get("next", "")
    allowed = {reverse("governance:request-detail", args=[pk]), reverse("governance:request-evidence", args=[pk])}
    return HttpResponseRedirect(target if target in allowed else reverse("governance:request-detail", args=[pk]))


@login_required
def request_evidence(request, pk):
    obj = selectors.request_get(user=request.user, pk=pk)
    actions = permissions.available_actions(request.user, obj)
    context = {
        "object": obj,
        "actions": actions,
        "forms": _action_forms(obj, actions),
        **evidence_for(obj),
        "votes": obj.votes.filter(round=obj.round).select_related("voter"),
        "reviews": obj.review_assignments.filter(round=obj.round).select_related("reviewer"),
        "conflicts": obj.conflict_declarations.select_related("member"),
        "my_role": permissions.committee_role(request.user, obj.committee),
        "recused": permissions.is_recused(request.user, obj),
    }
    if obj.status == DeploymentRequest.Status.FULL_BOARD_REVIEW:
        meeting = services._current_meeting(obj)
        context["meeting"] = meeting
        context["quorum"] = services.quorum(meeting, obj) if meeting else None
        context["vote_outcome"] = services.vote_outcome(obj)
    return render(request, "governance/request_evidence.html", context)


def _letter_context(request, obj):
    evidence = evidence_for(obj)
    return {
        "object": obj,
        **evidence,
        "votes": obj.votes.filter(round=obj.round).select_related("voter"),
        "tally": services.vote_outcome(obj)[1],
        "conditions": obj.conditions.all(),
        "chair": CommitteeMembership.objects.filter(committee=obj.committee, role="chair")
        .select_related("user")
        .first()
        if obj.committee_id
        else None,
        "generated_at": timezone.now(),
        "timeline": selectors.request_timeline(request=obj),
    }


@login_required
def request_letter(request, pk, fmt="html"):
    obj = selectors.request_get(user=request.user, pk=pk)
    if not obj.determination:
        raise Http404("No determination yet.")
    return _document(
        request, "governance/letter.html", _letter_context(request, obj), fmt, f"{obj.reference}-determination"
    )


@login_required
def request_packet(request, pk, fmt="html"):
    obj = selectors.request_get(user=request.user, pk=pk)
    return _document(
        request, "governance/packet.html", _letter_context(request, obj), fmt, f"{obj.reference}-irb-packet"
    )


def _document(request, template: str, context: dict, fmt: str, filename: str):
    if fmt != "pdf":
        return render(request, template, context)
    from weasyprint import HTML

    html = render_to_string(template, {**context, "pdf": True}, request=request)
    pdf = HTML(string=html, base_url=request.build_absolute_uri("/"), url_fetcher=_static_only_fetcher()).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
    return response


def _static_only_fetcher():
    """A PDF renders from our own static files on disk and never fetches anything from the network."""
    from urllib.parse import urlsplit

    from django.conf import settings
    from django.contrib.staticfiles import finders
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            path = urlsplit(url).path
            prefix = "/" + settings.STATIC_URL.lstrip("/")
            found = finders.find(path[len(prefix) :]) if path.startswith(prefix) else None
            if not found:
                raise ValueError(f"not fetched while rendering a PDF: {url}")
            with open(found, "rb") as handle:
                body = handle.read()
            mime = (
                "text/css"
                if found.endswith(".css")
                else "image/svg+xml"
                if found.endswith(".svg")
                else "application/octet-stream"
            )
            return URLFetcherResponse(url, body, {"Content-Type": mime})

    return StaticOnlyFetcher()


# --- Systems, meetings, policies, events ----------------------------------------------------------------------


@login_required
def system_list(request):
    systems = selectors.system_list(user=request.user)
    filters = {name: request.GET[name] for name in ("status", "risk_tier", "owner_department") if request.GET.get(name)}
    systems = systems.filter(**filters).annotate(request_count=Count("deployment_requests", distinct=True))
    return render(
        request,
        "governance/system_list.html",
        {
            "systems": systems,
            "filters": filters,
            "statuses": AISystem.Status.choices,
            "tiers": DeploymentRequest._meta.get_field("risk_tier").choices,
            "can_create": has_role(request.user, Role.REQUESTER),
        },
    )


@login_required
def system_create(request):
    if not has_role(request.user, Role.REQUESTER):
        raise Http404
    form = forms.SystemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            system = services.ai_system_register(by=request.user, **form.cleaned_data)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("%(name)s registered with risk tier %(tier)s.")
                % {"name": system.name, "tier": system.get_risk_tier_display()},
            )
            return redirect("governance:system-detail", pk=system.pk)
    return render(request, "governance/system_form.html", {"form": form})


@login_required
def system_detail(request, pk):
    system = get_object_or_404(selectors.system_list(user=request.user), pk=pk)
    from audits.charts import Series, trend_chart
    from audits.models import Audit

    audits = list(
        Audit.objects.filter(endpoint__ai_system=system, status__in=Audit.FINISHED_WITH_SCORES)
        .select_related("endpoint")
        .order_by("finished_at")
    )
    series = {}
    for audit in audits:
        accuracy = (audit.summary or {}).get("overall", {}).get("accuracy")
        if accuracy is not None and audit.finished_at:
            series.setdefault(audit.endpoint.name, []).append((audit.finished_at, accuracy))
    chart = trend_chart(
        [Series(name, points) for name, points in series.items()], title=_("Overall accuracy over time")
    )
    reattest = system.reattestation_requests.filter(completed_at__isnull=True, user=request.user).first()
    can_override_tier = has_role(request.user, Role.COMPLIANCE_ADMIN) or request.user.is_superuser
    if request.method == "POST" and "risk_tier" in request.POST and can_override_tier:
        try:
            services.ai_system_override_tier(
                system=system, tier=request.POST["risk_tier"], reason=request.POST.get("reason", ""), by=request.user
            )
            messages.success(request, _("The risk tier was changed; the reason is on the record."))
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("governance:system-detail", pk=pk)
    if request.method == "POST" and reattest:
        try:
            services.system_reattest(system=system, by=request.user)
            messages.success(request, _("Thank you: the new guideline version is attested."))
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("governance:system-detail", pk=pk)
    return render(
        request,
        "governance/system_detail.html",
        {
            "object": system,
            "chart": chart,
            "audits": list(reversed(audits))[:20],
            "requests": selectors.request_list(user=request.user).filter(ai_system=system),
            "endpoints": system.endpoints.all(),
            "reattest": reattest,
            "can_override_tier": can_override_tier,
            "risk_tiers": RiskTier.choices,
        },
    )


@login_required
def meeting_list(request):
    meetings = (
        selectors.meeting_list(user=request.user).annotate(items=Count("agenda_items")).order_by("-scheduled_for")
    )
    managed = [
        m.committee
        for m in CommitteeMembership.objects.filter(user=request.user, role__in=permissions.Manager).select_related(
            "committee"
        )
    ]
    form = forms.MeetingForm(request.POST or None)
    if request.method == "POST" and managed and form.is_valid():
        try:
            meeting = services.meeting_schedule(committee=managed[0], by=request.user, **form.cleaned_data)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Meeting scheduled."))
            return redirect("governance:meeting-detail", pk=meeting.pk)
    return render(request, "governance/meeting_list.html", {"meetings": meetings, "form": form if managed else None})


@login_required
def meeting_detail(request, pk):
    meeting = selectors.meeting_get(user=request.user, pk=pk)
    manager = permissions.committee_role(request.user, meeting.committee) in permissions.Manager
    members = meeting.committee.memberships.select_related("user")
    from django.contrib.auth import get_user_model

    member_users = get_user_model().objects.filter(committee_memberships__committee=meeting.committee)
    candidates = DeploymentRequest.objects.filter(committee=meeting.committee, status="full_board_review")
    if request.method == "POST" and manager:
        step = request.POST.get("step")
        try:
            if step == "agenda":
                form = forms.AgendaForm(request.POST, requests=candidates)
                if form.is_valid():
                    services.meeting_add_to_agenda(
                        meeting=meeting, request=form.cleaned_data["request"], by=request.user
                    )
                    messages.success(request, _("Added to the agenda."))
            elif step == "attendance":
                form = forms.AttendanceForm(request.POST, members=member_users)
                if form.is_valid():
                    services.meeting_record_attendance(
                        meeting=meeting, by=request.user, present_user_ids=[u.pk for u in form.cleaned_data["present"]]
                    )
                    messages.success(request, _("Attendance recorded; the meeting is in session."))
            elif step == "close":
                services.meeting_close(meeting=meeting, by=request.user, minutes=request.POST.get("minutes", ""))
                messages.success(request, _("Meeting closed."))
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("governance:meeting-detail", pk=pk)
    present = set(meeting.attendance.filter(present=True).values_list("member_id", flat=True))
    return render(
        request,
        "governance/meeting_detail.html",
        {
            "object": meeting,
            "members": members,
            "present": present,
            "manager": manager,
            "agenda": meeting.agenda_items.select_related("request__ai_system"),
            "quorum": services.quorum(meeting),
            "agenda_form": forms.AgendaForm(requests=candidates) if manager else None,
            "attendance_form": forms.AttendanceForm(members=member_users, initial={"present": list(present)})
            if manager
            else None,
        },
    )


@login_required
def policy_list(request):
    return render(
        request,
        "governance/policy_list.html",
        {
            "policies": ApprovalPolicy.objects.select_related("required_suite", "required_scenario_suite")
            .prefetch_related("thresholds")
            .order_by("risk_tier"),
            "guidelines": Guideline.objects.prefetch_related("clauses").exclude(status=Guideline.Status.DRAFT),
        },
    )


@login_required
def review_queue(request):
    return render(request, "governance/review_queue.html", selectors.irb_queue(user=request.user))


@login_required
def event_list(request):
    if not request.user.has_perm("governance.view_event"):
        raise Http404
    events = Event.objects.select_related("actor", "request").order_by("-seq")
    verb = request.GET.get("verb")
    if verb:
        events = events.filter(verb=verb)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    report = None
    if request.GET.get("verify"):
        from governance.events import verify_event_chain

        report = verify_event_chain()
    return render(request, "governance/event_list.html", {"page": page, "report": report, "verb": verb or ""})


@login_required
def incident_detail(request, pk):
    incident = get_object_or_404(selectors.incident_list(user=request.user), pk=pk)
    manager = permissions.committee_role(request.user, incident.request.committee) in permissions.Manager
    form = forms.IncidentReviewForm(request.POST or None)
    if request.method == "POST" and manager and form.is_valid():
        try:
            services.incident_review(incident=incident, by=request.user, **form.cleaned_data)
            messages.success(request, _("Incident closed."))
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("governance:request-detail", pk=incident.request_id)
    return render(request, "governance/incident_detail.html", {"object": incident, "form": form if manager else None})
