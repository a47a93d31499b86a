"""After approval: the AI system's status follows its requests, conditions are checked on safety
simulations too, amendments record what they change, and the request's tier can be overridden."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audits.models import Audit
from benchmark import services as benchmark_services
from governance import services
from governance.models import AISystem, Condition, DeploymentRequest, Event
from governance.tests.conftest import SCENARIOS_PATH, register_endpoint
from governance.tests.steps import approve_without_evidence, file_request, ok, refused, to_screening

pytestmark = pytest.mark.django_db
S = DeploymentRequest.Status


def system_status(h) -> str:
    return AISystem.objects.get(pk=h.system.pk).status


def approved_request(h, conditions=()) -> tuple[int, object]:
    endpoint = register_endpoint("prod", "http://127.0.0.1:9/v1")
    rid = file_request(h, endpoint)["id"]
    to_screening(h, rid)
    approve_without_evidence(h, rid, conditions)
    return rid, endpoint


def scored_audit(endpoint, *, kind: str, dimensions: dict, overall_low: float = 0.9, finished_days_ago: int = 0):
    """An audit as the audit engine leaves it when it has finished and scored (the engine is tested in audits/)."""
    if kind == Audit.Kind.SIMULATION:
        version = benchmark_services.scenario_version_import(
            suite_name=f"scenarios-{Audit.objects.count()}", lines=SCENARIOS_PATH.open("rb"), filename="s.jsonl"
        )
        content = {"scenario_version": version}
    else:
        from benchmark.models import BenchmarkVersion

        version = BenchmarkVersion.objects.first()
        content = {"benchmark_version": version}
    return Audit.objects.create(
        kind=kind,
        endpoint=endpoint,
        content_hash=version.content_hash,
        prompt_template_version="v1",
        parser_version="v1",
        status=Audit.Status.COMPLETED,
        finished_at=timezone.now() - timedelta(days=finished_days_ago),
        summary={
            "overall": {"n": 100, "ci_low": overall_low},
            "dimensions": {code: {"n": 20, "ci_low": low} for code, low in dimensions.items()},
        },
        **content,
    )


MEDICATION_BOUND = {
    "text": "Medication safety lower bound ≥ 0.5 on every scheduled audit",
    "kind": "dimension_lower_bound",
    "dimension_code": "safety.medication",
    "threshold": 0.5,
    "on_breach": "suspend",
}


# --- The AI system's status -----------------------------------------------------------------------


def test_the_system_status_follows_approval_use_suspension_and_reinstatement(hospital):
    h = hospital
    assert system_status(h) == AISystem.Status.PROPOSED
    rid, _endpoint = approved_request(h)
    assert system_status(h) == AISystem.Status.APPROVED
    ok(h.client(h.requester).post(f"/api/v1/deployment-requests/{rid}/mark-deployed/"))
    assert system_status(h) == AISystem.Status.DEPLOYED
    chair = h.client(h.chair)
    ok(chair.post(f"/api/v1/deployment-requests/{rid}/suspend/", {"reason": "Incident review"}, format="json"))
    assert system_status(h) == AISystem.Status.SUSPENDED
    refused(h.client(h.requester).post(f"/api/v1/deployment-requests/{rid}/mark-deployed/"), 409, "in force")
    ok(chair.post(f"/api/v1/deployment-requests/{rid}/reinstate/", {"reason": "Root cause fixed"}, format="json"))
    assert system_status(h) == AISystem.Status.DEPLOYED
    changes = Event.objects.filter(verb="system.status_changed", target_id=str(h.system.pk)).order_by("seq")
    assert [(e.data["from"], e.data["to"]) for e in changes] == [
        ("proposed", "approved"),
        ("approved", "deployed"),
        ("deployed", "suspended"),
        ("suspended", "deployed"),
    ]


def test_closing_the_last_approval_retires_the_system_and_expiry_makes_it_proposed_again(hospital):
    h = hospital
    rid, _endpoint = approved_request(h)
    ok(h.client(h.requester).post(f"/api/v1/deployment-requests/{rid}/close/", {"reason": "Ward closed"}))
    assert system_status(h) == AISystem.Status.RETIRED

    second = file_request(h, register_endpoint("second", "http://127.0.0.1:9/v1"))["id"]
    to_screening(h, second)
    approve_without_evidence(h, second)
    assert system_status(h) == AISystem.Status.APPROVED
    request = DeploymentRequest.objects.get(pk=second)
    services.continuing_review_sweep(now=request.expires_at + timedelta(minutes=1))
    assert DeploymentRequest.objects.get(pk=second).status == S.EXPIRED
    assert system_status(h) == AISystem.Status.PROPOSED


def test_a_system_in_use_under_one_approval_stays_deployed_when_another_ends(hospital):
    h = hospital
    first, _endpoint = approved_request(h)
    ok(h.client(h.requester).post(f"/api/v1/deployment-requests/{first}/mark-deployed/"))
    second = file_request(h, register_endpoint("second", "http://127.0.0.1:9/v1"))["id"]
    to_screening(h, second)
    approve_without_evidence(h, second)
    ok(h.client(h.secretary).post(f"/api/v1/deployment-requests/{second}/terminate/", {"reason": "Duplicate"}))
    assert system_status(h) == AISystem.Status.DEPLOYED


# --- Machine-checked conditions on safety simulations ---------------------------------------------


@pytest.mark.parametrize(
    ("source", "breached_by_simulation"),
    [("any", True), ("simulation", True), ("benchmark", False)],
)
def test_a_lower_bound_condition_is_checked_on_simulations_when_its_source_fits(
    hospital, source, breached_by_simulation
):
    h = hospital
    rid, endpoint = approved_request(h, [{**MEDICATION_BOUND, "source": source}])
    condition = Condition.objects.get(request_id=rid)
    assert condition.source == source

    simulation = scored_audit(endpoint, kind=Audit.Kind.SIMULATION, dimensions={"safety.medication": 0.31})
    services.on_audit_finished(audit_id=simulation.pk)

    condition.refresh_from_db()
    request = DeploymentRequest.objects.get(pk=rid)
    if breached_by_simulation:
        assert condition.status == Condition.Status.BREACHED
        assert "Safety simulation" in condition.breach_detail and "safety.medication" in condition.breach_detail
        assert request.status == S.SUSPENDED
    else:
        assert condition.status == Condition.Status.OPEN and request.status == S.ACTIVE


def test_a_simulation_that_did_not_measure_the_dimension_breaks_nothing(hospital):
    h = hospital
    rid, endpoint = approved_request(h, [{**MEDICATION_BOUND, "source": "simulation"}])
    simulation = scored_audit(endpoint, kind=Audit.Kind.SIMULATION, dimensions={"safety.triage": 0.1})
    services.on_audit_finished(audit_id=simulation.pk)
    assert Condition.objects.get(request_id=rid).status == Condition.Status.OPEN


def test_a_simulation_only_condition_ignores_a_failing_benchmark_audit(hospital):
    h = hospital
    rid, endpoint = approved_request(h, [{**MEDICATION_BOUND, "source": "simulation"}])
    benchmark = scored_audit(endpoint, kind=Audit.Kind.BENCHMARK, dimensions={"safety.medication": 0.1})
    services.on_audit_finished(audit_id=benchmark.pk)
    assert Condition.objects.get(request_id=rid).status == Condition.Status.OPEN


@pytest.mark.parametrize(("source", "overdue"), [("any", False), ("simulation", False), ("benchmark", True)])
def test_a_recent_simulation_counts_as_a_reaudit_when_the_source_fits(hospital, source, overdue):
    h = hospital
    reaudit = {"text": "Re-audit every 30 days", "kind": "reaudit_interval", "days": 30, "source": source}
    rid, endpoint = approved_request(h, [reaudit])
    scored_audit(endpoint, kind=Audit.Kind.BENCHMARK, dimensions={}, finished_days_ago=45)
    scored_audit(endpoint, kind=Audit.Kind.SIMULATION, dimensions={}, finished_days_ago=5)
    DeploymentRequest.objects.filter(pk=rid).update(approved_at=timezone.now() - timedelta(days=60))

    report = services.continuing_review_sweep(now=timezone.now())

    condition = Condition.objects.get(request_id=rid)
    assert report["overdue_reaudits"] == int(overdue)
    assert condition.status == (Condition.Status.BREACHED if overdue else Condition.Status.OPEN)
    if overdue:
        assert "Benchmark audits" in condition.breach_detail


def test_the_determination_form_records_the_conditions_source(hospital, client):
    h = hospital
    endpoint = register_endpoint("prod", "http://127.0.0.1:9/v1")
    rid = file_request(h, endpoint)["id"]
    to_screening(h, rid)
    secretary = h.client(h.secretary)
    ok(secretary.post(f"/api/v1/deployment-requests/{rid}/start-review/", {"review_type": "expedited"}))
    ok(secretary.post(f"/api/v1/deployment-requests/{rid}/assign-reviewer/", {"reviewer": h.member.pk}), 201)
    ok(h.client(h.member).post(f"/api/v1/deployment-requests/{rid}/review/", {"recommendation": "approve"}))
    client.force_login(h.member)
    client.post(
        f"/requests/{rid}/actions/determine/",
        {
            "determination": "approved_with_conditions",
            "override_justification": "Pilot",
            "condition_text": "Medication safety on simulations",
            "condition_kind": "dimension_lower_bound",
            "condition_source": "simulation",
            "condition_dimension": "safety.medication",
            "condition_threshold": "0.5",
            "condition_on_breach": "flag",
        },
    )
    condition = Condition.objects.get(request_id=rid)
    assert (condition.kind, condition.source) == ("dimension_lower_bound", "simulation")


# --- Amendments -----------------------------------------------------------------------------------


def test_an_amendment_records_whether_it_is_a_new_model_version_or_a_new_use(hospital, client):
    h = hospital
    rid, _endpoint = approved_request(h)
    requester = h.client(h.requester)
    missing = requester.post(f"/api/v1/deployment-requests/{rid}/amend/", {}, format="json")
    assert missing.status_code == 400 and "amendment_kind" in missing.data
    refused(h.client(h.member).post(f"/api/v1/deployment-requests/{rid}/amend/", {}), 403, "requester")
    amendment = ok(
        requester.post(
            f"/api/v1/deployment-requests/{rid}/amend/",
            {"amendment_kind": "new_model_version", "title": "Model 2.0"},
            format="json",
        ),
        201,
    )
    assert (amendment["kind"], amendment["amendment_kind"]) == ("amendment", "new_model_version")
    assert amendment["parent"] == rid
    assert amendment["title"] == "Model 2.0" and amendment["status"] == "draft"
    listed = ok(requester.get("/api/v1/deployment-requests/", {"amendment_kind": "new_model_version"}))
    assert [item["id"] for item in listed["results"]] == [amendment["id"]]
    assert Event.objects.get(verb="request.amendment_opened").data["amendment_kind"] == "new_model_version"

    client.force_login(h.requester)
    page = client.get(f"/requests/{rid}/")
    assert b'name="amendment_kind"' in page.content
    client.post(f"/requests/{rid}/actions/amend/", {"amendment_kind": "new_use"})
    newest = DeploymentRequest.objects.filter(parent_id=rid).latest("pk")
    assert newest.amendment_kind == "new_use"
    assert "New use" in client.get(f"/requests/{newest.pk}/").content.decode()


# --- The request's risk tier ----------------------------------------------------------------------


def test_compliance_administrators_override_a_requests_risk_tier_with_a_reason(hospital, client):
    h = hospital
    endpoint = register_endpoint("prod", "http://127.0.0.1:9/v1")
    rid = file_request(h, endpoint)["id"]
    url = f"/api/v1/deployment-requests/{rid}/override-tier/"
    body = {"risk_tier": "high", "reason": "Its summaries feed triage decisions."}
    refused(h.client(h.requester).post(url, body, format="json"), 403, "Compliance administrator")
    assert h.client(h.other_requester).post(url, body, format="json").status_code == 404
    blank = h.client(h.admin).post(url, {"risk_tier": "high", "reason": "  "}, format="json")
    assert blank.status_code == 400 and "reason" in blank.data
    done = ok(h.client(h.admin).post(url, body, format="json"))
    assert (done["risk_tier"], done["risk_tier_override_reason"]) == ("high", body["reason"])
    event = Event.objects.get(verb="request.tier_overridden", request_id=rid)
    assert (event.actor, event.data["from"], event.data["to"]) == (h.admin, "low", "high")
    assert h.requester.notifications.filter(verb="request.tier_overridden").exists()

    # The requester's later edits no longer re-derive the tier.
    ok(h.client(h.requester).patch(f"/api/v1/deployment-requests/{rid}/", {"title": "Renamed"}, format="json"))
    assert DeploymentRequest.objects.get(pk=rid).risk_tier == "high"

    to_screening(h, rid)
    ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/start-review/", {"review_type": "full_board"}, format="json"
        )
    )
    refused(h.client(h.admin).post(url, {"risk_tier": "low", "reason": "x"}, format="json"), 409, "fixed once review")

    # The same from the request's page, before review.
    other = file_request(h, endpoint)["id"]
    client.force_login(h.admin)
    assert b'name="risk_tier"' in client.get(f"/requests/{other}/").content
    client.post(f"/requests/{other}/actions/override_tier/", {"risk_tier": "medium", "reason": "Identifiable data"})
    assert DeploymentRequest.objects.get(pk=other).risk_tier == "medium"
    client.force_login(h.requester)
    assert b'name="risk_tier"' not in client.get(f"/requests/{other}/").content
    client.post(f"/requests/{other}/actions/override_tier/", {"risk_tier": "low", "reason": "mine"})
    assert DeploymentRequest.objects.get(pk=other).risk_tier == "medium"
