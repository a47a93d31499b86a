"""Every URL (pages and API) × every role, with the expected outcome.

The URL list comes from the URL conf: a new view without a rule here fails
``test_every_url_has_a_rule``. GET is checked for every URL; POST-only URLs are also checked with a POST
from someone who must not act (a stranger to the object gets 404, a visible-but-unauthorised user 403).
"""

from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from audits import services as audit_services
from audits.models import Audit, AuditSchedule, ConversationResult
from benchmark import services as benchmark_services
from governance import services
from governance.models import Condition, DeploymentRequest, Event, IncidentReport, Meeting, Notification, Role
from governance.tests.conftest import SCENARIOS_PATH, build_hospital
from governance.tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = [
    "anon",
    "requester",
    "other_requester",
    "auditor",
    "other_auditor",
    "member",
    "chair",
    "secretary",
    "lay",
    "admin",
]
SIGNED_IN = ROLES[1:]
COMMITTEE = {"member", "chair", "secretary", "lay"}
OFFICERS = {"chair", "secretary"}
AUDITORS = {"auditor", "other_auditor"}
IRB = COMMITTEE | {"other_auditor"}  # the other auditor also sits on another committee
BENCH_READERS = AUDITORS | IRB | {"admin"}
REQUEST_VIEWERS = {"requester", "auditor", "admin"} | COMMITTEE  # the approved request, audited by our team
DRAFT_VIEWERS = {"requester", "admin"}
AUDIT_VIEWERS = {"requester", "auditor", "admin"} | COMMITTEE  # the audit is evidence on the request
ENDPOINT_VIEWERS = {"auditor", "admin"}


def only(allowed, code=200, other=404, anon=302):
    """Expected status per role: ``code`` for the allowed roles, ``other`` for the rest."""
    return {role: (anon if role == "anon" else code if role in allowed else other) for role in ROLES}


def every(code=200, anon=302):
    return only(set(SIGNED_IN), code=code, anon=anon)


def api(allowed, code=200, other=404):
    return only(allowed, code=code, other=other, anon=401)


def api_all(code=200):
    return api(set(SIGNED_IN), code=code)


def post_only(anon=302):
    return every(405, anon=anon)


def api_post_only():
    return api_all(405)


# name -> (path template, GET expectations, optional POST check (role, expected code))
RULES = {
    "healthz": ("/healthz", {role: 200 for role in ROLES}, None),
    "readyz": ("/readyz", {role: 503 for role in ROLES}, None),
    "login": ("/accounts/login/", {**every(302), "anon": 200}, None),
    "logout": ("/accounts/logout/", {**every(405), "anon": 405}, None),
    "set_language": ("/i18n/setlang/", {role: 302 for role in ROLES}, None),
    "api-schema": ("/api/schema/", api_all(), None),
    "api-docs": ("/api/docs/", api_all(), None),
    "api-token": ("/api/v1/auth/token/", {role: 405 for role in ROLES}, None),
    "home": ("/", every(), None),
    # benchmark pages
    "benchmark:suite-list": ("/benchmark/", every(), None),
    "benchmark:import": ("/benchmark/import/", only(AUDITORS, other=403), None),
    "benchmark:version-detail": ("/benchmark/versions/{version}/", only(BENCH_READERS), None),
    "benchmark:version-export": ("/benchmark/versions/{version}/export.jsonl", only(BENCH_READERS), None),
    "benchmark:version-retire": ("/benchmark/versions/{version}/retire/", post_only(), ("requester", 404)),
    "benchmark:item-list": ("/benchmark/items/", every(), None),
    "benchmark:item-detail": ("/benchmark/items/{item}/", only(BENCH_READERS), None),
    "benchmark:scenario-version-detail": ("/benchmark/scenarios/{scenario_version}/", only(BENCH_READERS), None),
    "benchmark:scenario-version-export": (
        "/benchmark/scenarios/{scenario_version}/export.jsonl",
        only(BENCH_READERS),
        None,
    ),
    # audit pages
    "audits:audit-list": ("/audits/", every(), None),
    "audits:audit-create": ("/audits/new/", only(AUDITORS), None),
    "audits:audit-detail": ("/audits/{audit}/", only(AUDIT_VIEWERS), None),
    "audits:audit-progress": ("/audits/{audit}/progress.json", only(AUDIT_VIEWERS), None),
    "audits:audit-start": ("/audits/{audit}/start/", post_only(), ("member", 404)),
    "audits:audit-cancel": ("/audits/{audit}/cancel/", post_only(), ("other_auditor", 404)),
    "audits:audit-rescore": ("/audits/{audit}/rescore/", post_only(), ("requester", 404)),
    "audits:audit-export": ("/audits/{audit}/export.csv", only(AUDIT_VIEWERS), None),
    "audits:audit-results": ("/audits/{audit}/results/", only(AUDIT_VIEWERS), None),
    "audits:audit-conversations": ("/audits/{audit}/conversations/", only(AUDIT_VIEWERS), None),
    "audits:conversation-detail": ("/audits/conversations/{conversation}/", only(AUDIT_VIEWERS), None),
    "audits:adjudication-queue": ("/audits/adjudication/", every(), None),
    "audits:endpoint-list": ("/audits/endpoints/", every(), None),
    "audits:endpoint-create": ("/audits/endpoints/new/", only(AUDITORS), None),
    "audits:endpoint-detail": ("/audits/endpoints/{endpoint}/", only(ENDPOINT_VIEWERS), None),
    "audits:endpoint-edit": ("/audits/endpoints/{endpoint}/edit/", only({"auditor"}), None),
    "audits:endpoint-test": ("/audits/endpoints/{endpoint}/test/", post_only(), ("other_auditor", 404)),
    # governance pages
    "governance:notification-list": ("/notifications/", every(), None),
    "governance:dashboard": ("/dashboard/", only({"admin"}), None),
    "governance:dashboard-csv": ("/dashboard/export.csv", only({"admin"}), None),
    "governance:request-list": ("/requests/", every(), None),
    "governance:request-create": ("/requests/new/", only({"requester", "other_requester"}), None),
    "governance:request-detail": ("/requests/{request}/", only(REQUEST_VIEWERS), None),
    "governance:request-edit": ("/requests/{draft}/edit/", only({"requester"}), None),
    "governance:request-attest": ("/requests/{draft}/attest/", only(DRAFT_VIEWERS), None),
    "governance:request-evidence": ("/requests/{request}/evidence/", only(REQUEST_VIEWERS), None),
    "governance:request-action": ("/requests/{request}/actions/suspend/", post_only(), ("requester", 302)),
    "governance:request-letter": ("/requests/{request}/letter/", only(REQUEST_VIEWERS), None),
    "governance:request-letter-pdf": ("/requests/{request}/letter.pdf", only(REQUEST_VIEWERS), None),
    "governance:request-packet": ("/requests/{request}/packet/", only(REQUEST_VIEWERS), None),
    "governance:request-packet-pdf": ("/requests/{request}/packet.pdf", only(REQUEST_VIEWERS), None),
    "governance:review-queue": ("/reviews/", every(), None),
    "governance:system-list": ("/systems/", every(), None),
    "governance:system-create": ("/systems/new/", only({"requester", "other_requester"}), None),
    "governance:system-detail": ("/systems/{system}/", only({"requester", "admin", "auditor"} | IRB), None),
    "governance:meeting-list": ("/meetings/", every(), None),
    "governance:meeting-detail": ("/meetings/{meeting}/", only(COMMITTEE | {"admin"}), None),
    "governance:policy-list": ("/policies/", every(), None),
    "governance:event-list": ("/events/", only({"admin"}), None),
    "governance:incident-detail": ("/incidents/{incident}/", only(REQUEST_VIEWERS), None),
    # API: benchmark
    "dimension-list": ("/api/v1/dimensions/", api_all(), None),
    "dimension-detail": ("/api/v1/dimensions/{dimension}/", api_all(), None),
    "benchmark-suite-list": ("/api/v1/benchmark-suites/", api(BENCH_READERS, other=403), None),
    "benchmark-suite-detail": ("/api/v1/benchmark-suites/{suite}/", api(BENCH_READERS, other=403), None),
    "benchmark-version-list": ("/api/v1/benchmark-versions/", api(BENCH_READERS, other=403), None),
    "benchmark-version-import-file": (
        "/api/v1/benchmark-versions/import/",
        api_post_only(),
        ("member", 403),
    ),
    "benchmark-version-detail": ("/api/v1/benchmark-versions/{version}/", api(BENCH_READERS, other=403), None),
    "benchmark-version-export": ("/api/v1/benchmark-versions/{version}/export/", api(BENCH_READERS, other=403), None),
    "benchmark-version-retire": (
        "/api/v1/benchmark-versions/{version}/retire/",
        api_post_only(),
        ("member", 403),
    ),
    "item-list": ("/api/v1/items/", api(BENCH_READERS, other=403), None),
    "item-detail": ("/api/v1/items/{item}/", api(BENCH_READERS, other=403), None),
    # API: audits
    "endpoint-list": ("/api/v1/endpoints/", api_all(), None),
    "endpoint-detail": ("/api/v1/endpoints/{endpoint}/", api(ENDPOINT_VIEWERS), None),
    "endpoint-test-connection": (
        "/api/v1/endpoints/{endpoint}/test-connection/",
        api_post_only(),
        ("other_auditor", 404),
    ),
    "audit-list": ("/api/v1/audits/", api_all(), None),
    "audit-detail": ("/api/v1/audits/{audit}/", api(AUDIT_VIEWERS), None),
    "audit-cancel": ("/api/v1/audits/{audit}/cancel/", api_post_only(), ("chair", 403)),
    "audit-start": ("/api/v1/audits/{audit}/start/", api_post_only(), ("other_auditor", 404)),
    "audit-rescore": ("/api/v1/audits/{audit}/rescore/", api_post_only(), ("requester", 403)),
    "audit-compare": ("/api/v1/audits/{audit}/compare/?with={audit}", api(AUDIT_VIEWERS), None),
    "audit-conversations": ("/api/v1/audits/{audit}/conversations/", api(AUDIT_VIEWERS), None),
    "audit-export": ("/api/v1/audits/{audit}/export/", api(AUDIT_VIEWERS), None),
    "audit-progress": ("/api/v1/audits/{audit}/progress/", api(AUDIT_VIEWERS), None),
    "audit-report": ("/api/v1/audits/{audit}/report/", api(AUDIT_VIEWERS), None),
    "audit-results": ("/api/v1/audits/{audit}/results/", api(AUDIT_VIEWERS), None),
    "adjudication-list": ("/api/v1/adjudication/", api_all(), None),
    "adjudication-detail": ("/api/v1/adjudication/{conversation}/", api({"auditor", "admin"}), None),
    "adjudication-grade": ("/api/v1/adjudication/{conversation}/grade/", api_post_only(), ("admin", 403)),
    "audit-schedule-list": ("/api/v1/audit-schedules/", api_all(), None),
    "audit-schedule-detail": ("/api/v1/audit-schedules/{schedule}/", api(ENDPOINT_VIEWERS), None),
    # API: governance
    "deployment-request-list": ("/api/v1/deployment-requests/", api_all(), None),
    "deployment-request-detail": ("/api/v1/deployment-requests/{request}/", api(REQUEST_VIEWERS), None),
    "deployment-request-evaluation": ("/api/v1/deployment-requests/{request}/evaluation/", api(REQUEST_VIEWERS), None),
    "deployment-request-timeline": ("/api/v1/deployment-requests/{request}/timeline/", api(REQUEST_VIEWERS), None),
    "ai-system-list": ("/api/v1/ai-systems/", api_all(), None),
    "ai-system-detail": ("/api/v1/ai-systems/{system}/", api({"requester", "admin", "auditor"} | IRB), None),
    "ai-system-override-tier": ("/api/v1/ai-systems/{system}/override-tier/", api_post_only(), ("requester", 403)),
    "ai-system-reattest": ("/api/v1/ai-systems/{system}/reattest/", api_post_only(), ("auditor", 403)),
    "committee-list": ("/api/v1/committees/", api_all(), None),
    "committee-detail": ("/api/v1/committees/{committee}/", api(COMMITTEE | {"admin"}), None),
    "audit-team-list": ("/api/v1/audit-teams/", api_all(), None),
    "audit-team-detail": ("/api/v1/audit-teams/{team}/", api({"auditor", "admin"} | IRB), None),
    "meeting-list": ("/api/v1/meetings/", api_all(), None),
    "meeting-detail": ("/api/v1/meetings/{meeting}/", api(COMMITTEE | {"admin"}), None),
    "meeting-agenda": ("/api/v1/meetings/{meeting}/agenda/", api_post_only(), ("requester", 404)),
    "meeting-attendance": ("/api/v1/meetings/{meeting}/attendance/", api_post_only(), ("other_auditor", 404)),
    "meeting-close": ("/api/v1/meetings/{meeting}/close/", api_post_only(), ("member", 403)),
    "guideline-list": ("/api/v1/guidelines/", api_all(), None),
    "guideline-detail": ("/api/v1/guidelines/{guideline}/", api_all(), None),
    "guideline-publish": ("/api/v1/guidelines/{guideline}/publish/", api_post_only(), ("chair", 403)),
    "guideline-new-version": ("/api/v1/guidelines/{guideline}/new-version/", api_post_only(), ("chair", 403)),
    "approval-policy-list": ("/api/v1/approval-policies/", api_all(), None),
    "approval-policy-detail": ("/api/v1/approval-policies/{policy}/", api_all(), None),
    "condition-list": ("/api/v1/conditions/", api_all(), None),
    "condition-detail": ("/api/v1/conditions/{condition}/", api(REQUEST_VIEWERS), None),
    "condition-resolve": ("/api/v1/conditions/{condition}/resolve/", api_post_only(), ("other_requester", 404)),
    "incident-list": ("/api/v1/incidents/", api_all(), None),
    "incident-detail": ("/api/v1/incidents/{incident}/", api(REQUEST_VIEWERS), None),
    "incident-review": ("/api/v1/incidents/{incident}/review/", api_post_only(), ("other_auditor", 404)),
    "event-list": ("/api/v1/events/", api_all(), None),
    "event-verify": ("/api/v1/events/verify/", api({"admin"}, other=403), None),
    "event-detail": ("/api/v1/events/{event}/", api({"admin"}), None),
    "notification-list": ("/api/v1/notifications/", api_all(), None),
    "notification-mark-read": ("/api/v1/notifications/mark-read/", api_post_only(), None),
    "notification-detail": ("/api/v1/notifications/{notification}/", api({"requester"}), None),
}
REQUEST_ACTIONS = [
    "amend",
    "assign-reviewer",
    "attachments",
    "attest",
    "close",
    "declare-conflict",
    "determine",
    "incidents",
    "mark-deployed",
    "override-tier",
    "refer-to-full-board",
    "reinstate",
    "renew",
    "request-clarification",
    "reschedule",
    "respond",
    "resubmit",
    "review",
    "screen",
    "send-to-audit",
    "start-review",
    "submit",
    "suspend",
    "terminate",
    "vote",
    "withdraw",
]
for _action in REQUEST_ACTIONS:
    RULES[f"deployment-request-{_action}"] = (
        f"/api/v1/deployment-requests/{{request}}/{_action}/",
        api_post_only(),
        ("other_requester", 404),
    )
# A committee member who may see the request but is not an officer: refused with 403.
RULES["deployment-request-screen"] = (*RULES["deployment-request-screen"][:2], ("member", 403))
RULES["deployment-request-amend"] = (*RULES["deployment-request-amend"][:2], ("auditor", 403))
RULES["deployment-request-override-tier"] = (*RULES["deployment-request-override-tier"][:2], ("chair", 403))
RULES["deployment-request-mark-deployed"] = (*RULES["deployment-request-mark-deployed"][:2], ("member", 403))


def _url_names(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith("admin/"):
                continue
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_url_has_a_rule():
    names = set(_url_names(get_resolver().url_patterns))
    missing = sorted(names - set(RULES))
    assert not missing, f"URLs without a permission rule (add them to RULES): {missing}"
    stale = sorted(set(RULES) - names)
    assert not stale, f"rules for URLs that no longer exist: {stale}"


@pytest.fixture
def world(transactional_db, simulator_factory):
    h = build_hospital()
    users = {
        "requester": h.requester,
        "other_requester": h.other_requester,
        "auditor": h.auditor,
        "other_auditor": h.outsider,
        "member": h.member,
        "chair": h.chair,
        "secretary": h.secretary,
        "lay": h.lay,
        "admin": h.admin,
    }
    url = simulator_factory("--accuracy", "0.95")
    endpoint, _ = audit_services.endpoint_register(name="prod", base_url=url, model="medgov-sim-1", team=h.team)
    draft = services.request_create(
        by=h.requester, ai_system=h.system, endpoints=[endpoint], title="Draft", intended_use="x"
    )
    request = services.request_create(
        by=h.requester,
        ai_system=h.system,
        endpoints=[endpoint],
        title="Approved",
        intended_use="Summaries",
        intended_users="Doctors",
        patient_population="Adults",
        oversight_plan="Review",
        data_flows="On-prem",
        fallback_plan="Manual",
    )
    services.request_attest(
        request=request, by=h.requester, clause_ids=list(h.guideline.clauses.values_list("id", flat=True))
    )
    services.request_submit(request=request, by=h.requester)
    services.request_screen(request=request, by=h.secretary)
    [audit] = services.request_send_to_audit(request=request, by=h.secretary, team=h.team)
    audit_services.audit_queue(audit=audit, by=h.auditor)
    audit_services.audit_start(audit_id=audit.pk)
    for chunk_id in audit.chunks.values_list("id", flat=True):
        audit_services.audit_chunk_run(chunk_id=chunk_id)
    services.on_audit_finished(audit_id=audit.pk)
    services.request_assign_reviewer(request=request, by=h.secretary, reviewer=h.member)
    services.review_submit(request=request, by=h.member, recommendation="approve_with_conditions")
    services.request_determine(
        request=request,
        by=h.member,
        determination="approved_with_conditions",
        conditions=[services.ConditionSpec(text="Monthly re-audit", kind="reaudit_interval", days=30)],
    )
    incident = services.incident_report(
        request=request, by=h.requester, severity="low", description="Typo in a draft", occurred_at=timezone.now()
    )
    meeting = services.meeting_schedule(
        committee=h.committee, by=h.secretary, scheduled_for=timezone.now() + timedelta(days=3)
    )
    scenario_version = benchmark_services.scenario_version_import(
        suite_name="scen", lines=SCENARIOS_PATH.open("rb"), filename="s.jsonl"
    )
    sim_audit = Audit.objects.create(
        kind="simulation",
        endpoint=endpoint,
        scenario_version=scenario_version,
        content_hash=scenario_version.content_hash,
        prompt_template_version="judge-v1",
        parser_version="grader-v1",
        team=h.team,
        deployment_request=request,
    )
    scenario = scenario_version.scenarios.first()
    conversation = ConversationResult.objects.create(
        audit=sim_audit,
        scenario=scenario,
        dimension_id=scenario.dimension_id,
        prompt_hash="0" * 64,
        transcript=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        rule_verdict="pass",
        judge_verdict="fail",
        needs_adjudication=True,
        adjudication_reason="rules_and_judge_disagree",
        final_verdict="fail",
    )
    from guardian.shortcuts import assign_perm

    for action in ("view", "change"):
        assign_perm(f"audits.{action}_audit", h.team.group, sim_audit)
    schedule = AuditSchedule.objects.create(name="monthly", endpoint=endpoint, suite=h.suite, interval_hours=720)
    ids = {
        "request": request.pk,
        "draft": draft.pk,
        "audit": audit.pk,
        "endpoint": endpoint.pk,
        "version": h.version.pk,
        "item": h.version.items.first().pk,
        "scenario_version": scenario_version.pk,
        "conversation": conversation.pk,
        "system": h.system.pk,
        "meeting": meeting.pk,
        "incident": incident.pk,
        "committee": h.committee.pk,
        "team": h.team.pk,
        "guideline": h.guideline.pk,
        "suite": h.suite.pk,
        "policy": h.suite.approval_policies.first().pk,
        "condition": Condition.objects.get(request=request).pk,
        "event": Event.objects.first().pk,
        "notification": Notification.objects.filter(user=h.requester).first().pk,
        "dimension": h.version.items.first().dimension_id,
        "schedule": schedule.pk,
    }
    assert DeploymentRequest.objects.get(pk=request.pk).status == "active"
    assert IncidentReport.objects.filter(pk=incident.pk).exists() and Meeting.objects.filter(pk=meeting.pk).exists()
    return users, ids


def _client_for(role, users):
    from django.test import Client

    client = Client()
    if role != "anon":
        client.force_login(users[role])
    return client


@pytest.mark.django_db(transaction=True)
def test_the_permission_matrix(world):
    users, ids = world
    failures = []
    clients = {role: _client_for(role, users) for role in ROLES}
    for name, (template, expected, post_check) in sorted(RULES.items()):
        path = template.format(**ids)
        for role in ROLES:
            response = clients[role].get(path)
            if response.status_code != expected[role]:
                failures.append(f"GET {path} as {role}: {response.status_code}, expected {expected[role]}")
            login_required = name not in ("set_language", "login")
            if (
                role == "anon"
                and expected[role] == 302
                and login_required
                and not response["Location"].startswith("/accounts/login/")
            ):
                failures.append(f"GET {path} as anon redirected to {response['Location']}, not the login page")
        if post_check:
            role, code = post_check
            response = (
                clients[role].post(path, {}, content_type="application/json")
                if path.startswith("/api/")
                else clients[role].post(path, {})
            )
            if response.status_code != code:
                failures.append(f"POST {path} as {role}: {response.status_code}, expected {code}")
            anon = clients["anon"].post(path, {})
            if anon.status_code not in (302, 401, 403):
                failures.append(f"POST {path} as anon: {anon.status_code}, expected a refusal")
    assert not failures, "\n".join(failures)


def test_a_user_of_another_committee_sees_nothing_of_ours(world):
    users, ids = world
    client = _client_for("other_auditor", users)
    assert client.get("/api/v1/deployment-requests/").json()["count"] == 0
    assert client.get("/api/v1/meetings/").json()["count"] == 0
    stranger = UserFactory(username="stranger", roles=[Role.REQUESTER])
    client.force_login(stranger)
    assert client.get(f"/requests/{ids['request']}/").status_code == 404
