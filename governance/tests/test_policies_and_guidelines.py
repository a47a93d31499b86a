"""Compliance administrators edit approval policies and guidelines through the API; everyone else reads.
A published guideline never changes: a new version does. Owners re-attest through the API."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from governance import services
from governance.models import (
    AISystem,
    ApprovalPolicy,
    DeploymentRequest,
    Event,
    Guideline,
    GuidelineClause,
    ReattestationRequest,
)
from governance.policy import approval_months_for
from governance.tests.conftest import register_endpoint
from governance.tests.steps import approve_without_evidence, file_request, ok, refused, to_screening

pytestmark = pytest.mark.django_db


# --- Approval periods by tier ---------------------------------------------------------------------


def test_a_policy_without_a_period_gets_its_tiers_default(hospital):
    h = hospital
    assert dict(ApprovalPolicy.objects.values_list("risk_tier", "approval_months")) == {
        "low": 12,
        "medium": 12,
        "high": 6,
    }
    ApprovalPolicy.objects.filter(risk_tier="high").delete()
    policy = ApprovalPolicy(risk_tier="high", name="High", required_suite=h.suite)
    policy.full_clean()
    policy.save()
    assert policy.approval_months == 6


def test_without_any_policy_a_high_tier_approval_lasts_six_months(hospital):
    h = hospital
    ApprovalPolicy.objects.all().delete()
    request = services.request_create(by=h.requester, ai_system=h.system, title="t", intended_use="x")
    assert approval_months_for(request) == 12
    request.risk_tier = "high"
    assert approval_months_for(request) == 6


def test_an_approval_expires_after_the_period_its_policy_sets(hospital):
    h = hospital
    ApprovalPolicy.objects.filter(risk_tier="low").update(approval_months=3)
    endpoint = register_endpoint("prod", "http://127.0.0.1:9/v1")
    rid = file_request(h, endpoint)["id"]
    to_screening(h, rid)
    approve_without_evidence(h, rid)
    expires = DeploymentRequest.objects.get(pk=rid).expires_at
    assert timedelta(days=88) < expires - timezone.now() < timedelta(days=94)


# --- Approval policies through the API ------------------------------------------------------------


def test_only_compliance_administrators_write_policies(hospital):
    h = hospital
    policy = ApprovalPolicy.objects.get(risk_tier="medium")
    url = f"/api/v1/approval-policies/{policy.pk}/"
    for user in (h.requester, h.chair, h.auditor):
        refused(h.client(user).patch(url, {"max_error_rate": 0.5}, format="json"), 403, "Compliance administrator")
        refused(
            h.client(user).post("/api/v1/approval-policies/", {"risk_tier": "low"}, format="json"),
            403,
            "Compliance administrator",
        )
    assert ApprovalPolicy.objects.get(pk=policy.pk).max_error_rate == 0.02
    assert h.client(h.requester).get(url).status_code == 200  # everyone reads
    assert h.client(h.admin).delete(url).status_code == 405


def test_a_compliance_administrator_edits_a_policy_and_its_thresholds(hospital):
    h = hospital
    api = h.client(h.admin)
    policy = ApprovalPolicy.objects.get(risk_tier="medium")
    url = f"/api/v1/approval-policies/{policy.pk}/"
    thresholds = [
        {"scope": "overall", "min_lower_bound": 0.55},
        {"scope": "each_dimension", "target": "safety", "min_lower_bound": 0.45},
        {"scope": "dimension", "target": "ethics.assisted_reproduction", "min_lower_bound": 0.5},
    ]
    done = ok(api.patch(url, {"max_refusal_rate": 0.1, "thresholds": thresholds}, format="json"))
    assert done["max_refusal_rate"] == 0.1
    assert sorted((t["scope"], t["target"], t["min_lower_bound"]) for t in done["thresholds"]) == [
        ("dimension", "ethics.assisted_reproduction", 0.5),
        ("each_dimension", "safety", 0.45),
        ("overall", "", 0.55),
    ]
    assert policy.thresholds.count() == 3
    event = Event.objects.get(verb="policy.edited")
    assert event.actor == h.admin and event.data["fields"] == ["max_refusal_rate"]
    assert len(event.data["before"]["thresholds"]) == 2 and len(event.data["after"]["thresholds"]) == 3

    ok(api.patch(url, {"approval_months": 9}, format="json"))
    assert ApprovalPolicy.objects.get(pk=policy.pk).approval_months == 9
    ok(api.patch(url, {"approval_months": None}, format="json"))
    assert ApprovalPolicy.objects.get(pk=policy.pk).approval_months == 12  # back to the tier's default
    assert policy.thresholds.count() == 3  # untouched when not sent


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"thresholds": [{"scope": "dimension", "target": "safety.nope", "min_lower_bound": 0.5}]},
            "Unknown dimension",
        ),
        ({"thresholds": [{"scope": "category", "target": "kindness", "min_lower_bound": 0.5}]}, "not a category"),
        ({"thresholds": [{"scope": "overall", "target": "safety", "min_lower_bound": 0.5}]}, "no target"),
        (
            {
                "thresholds": [
                    {"scope": "overall", "min_lower_bound": 0.5},
                    {"scope": "overall", "min_lower_bound": 0.6},
                ]
            },
            "Two thresholds",
        ),
        (
            {"thresholds": [{"source": "simulation", "scope": "overall", "min_lower_bound": 0.5}]},
            "scenario suite",
        ),
    ],
)
def test_a_policy_edit_is_validated(hospital, change, message):
    h = hospital
    policy = ApprovalPolicy.objects.get(risk_tier="medium")
    refused(h.client(h.admin).patch(f"/api/v1/approval-policies/{policy.pk}/", change, format="json"), 400, message)
    assert policy.thresholds.count() == 2


@pytest.mark.parametrize(
    "change",
    [{"max_error_rate": 1.5}, {"approval_months": 0}, {"risk_tier": "high"}, {"thresholds": [{"scope": "overall"}]}],
)
def test_a_policy_edit_with_bad_values_is_refused(hospital, change):
    h = hospital
    policy = ApprovalPolicy.objects.get(risk_tier="medium")
    response = h.client(h.admin).patch(f"/api/v1/approval-policies/{policy.pk}/", change, format="json")
    assert response.status_code == 400, response.data
    assert set(change) <= set(response.data)


def test_a_compliance_administrator_creates_a_policy_for_a_tier_without_one(hospital):
    h = hospital
    ApprovalPolicy.objects.filter(risk_tier="high").delete()
    api = h.client(h.admin)
    body = {
        "risk_tier": "high",
        "name": "High-risk deployments",
        "required_suite": h.suite.pk,
        "allow_expedited": False,
        "thresholds": [{"scope": "overall", "min_lower_bound": 0.6}],
    }
    created = ok(api.post("/api/v1/approval-policies/", body, format="json"), 201)
    assert created["approval_months"] == 6 and len(created["thresholds"]) == 1
    assert Event.objects.filter(verb="policy.created", target_id=str(created["id"])).exists()
    duplicate = api.post("/api/v1/approval-policies/", body, format="json")
    assert duplicate.status_code == 400 and "risk_tier" in duplicate.data


# --- Guidelines through the API -------------------------------------------------------------------


CLAUSES = [
    {"number": "1", "topic": "deidentification", "text_en": "Strip identifiers.", "text_zh": "去标识化。"},
    {"number": "2", "topic": "retention", "text_en": "Delete prompts after 30 days."},
]


def test_only_compliance_administrators_write_guidelines(hospital):
    h = hospital
    body = {"code": "data-ethics", "title_en": "Data ethics", "effective_date": "2027-01-01", "clauses": CLAUSES}
    for user in (h.requester, h.chair):
        api = h.client(user)
        refused(api.post("/api/v1/guidelines/", body, format="json"), 403, "Compliance administrator")
        refused(api.post(f"/api/v1/guidelines/{h.guideline.pk}/new-version/"), 403, "Compliance administrator")
        refused(
            api.patch(f"/api/v1/guidelines/{h.guideline.pk}/", {"title_en": "x"}, format="json"),
            403,
            "Compliance administrator",
        )
    assert Guideline.objects.count() == 1


def test_a_published_guideline_changes_only_by_a_new_version(hospital):
    h = hospital
    api = h.client(h.admin)
    url = f"/api/v1/guidelines/{h.guideline.pk}/"
    refused(api.patch(url, {"clauses": CLAUSES}, format="json"), 409, "Start a new version")
    refused(api.patch(url, {"title_en": "Rewritten"}, format="json"), 409, "Start a new version")
    h.guideline.refresh_from_db()
    assert h.guideline.title_en == "Data ethics" and h.guideline.clauses.count() == 3

    draft = ok(api.post(f"{url}new-version/"), 201)
    assert (draft["version"], draft["status"], len(draft["clauses"])) == (2, "draft", 3)
    refused(api.post(f"{url}new-version/"), 409, "already being prepared")
    edited = ok(
        api.patch(
            f"/api/v1/guidelines/{draft['id']}/", {"title_en": "Data ethics 2027", "clauses": CLAUSES}, format="json"
        )
    )
    assert edited["title_en"] == "Data ethics 2027"
    assert [(c["number"], c["topic"]) for c in edited["clauses"]] == [("1", "deidentification"), ("2", "retention")]
    assert Event.objects.filter(verb="guideline.edited", target_id=str(draft["id"])).exists()
    renumber = api.patch(f"/api/v1/guidelines/{draft['id']}/", {"version": 7}, format="json")
    assert renumber.status_code == 400

    published = ok(api.post(f"/api/v1/guidelines/{draft['id']}/publish/"))
    assert published["status"] == "effective" and published["supersedes"] == h.guideline.pk
    refused(api.patch(f"/api/v1/guidelines/{draft['id']}/", {"clauses": []}, format="json"), 409, "new version")
    assert GuidelineClause.objects.filter(guideline_id=draft["id"]).count() == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"clauses": [CLAUSES[0], {**CLAUSES[1], "number": "1"}]}, "its own number"),
        ({"version": 1}, "above it"),
    ],
)
def test_a_guideline_draft_is_validated(hospital, change, message):
    h = hospital
    body = {"code": "data-ethics", "title_en": "Data ethics", "effective_date": "2027-01-01", **change}
    refused(h.client(h.admin).post("/api/v1/guidelines/", body, format="json"), 400, message)
    assert Guideline.objects.count() == 1


@pytest.mark.parametrize(
    "clause", [{**CLAUSES[0], "text_en": "  "}, {**CLAUSES[0], "topic": "vibes"}, {"number": "3", "topic": "consent"}]
)
def test_a_guideline_clause_with_bad_values_is_refused(hospital, clause):
    h = hospital
    draft = services.guideline_new_version(guideline=h.guideline, by=h.admin)
    response = h.client(h.admin).patch(f"/api/v1/guidelines/{draft.pk}/", {"clauses": [clause]}, format="json")
    assert response.status_code == 400 and "clauses" in response.data, response.data
    assert draft.clauses.count() == 3


def test_the_owner_reattests_a_new_version_through_the_api(hospital):
    h = hospital
    endpoint = register_endpoint("prod", "http://127.0.0.1:9/v1")
    rid = file_request(h, endpoint)["id"]
    to_screening(h, rid)
    approve_without_evidence(h, rid)
    assert AISystem.objects.get(pk=h.system.pk).status == AISystem.Status.APPROVED
    admin = h.client(h.admin)
    draft = ok(
        admin.post(
            "/api/v1/guidelines/",
            {
                "code": "data-ethics",
                "title_en": "Data ethics",
                "effective_date": str(date(2027, 1, 1)),
                "clauses": CLAUSES,
            },
            format="json",
        ),
        201,
    )
    assert draft["version"] == 2
    ok(admin.post(f"/api/v1/guidelines/{draft['id']}/publish/"))

    url = f"/api/v1/ai-systems/{h.system.pk}/"
    pending = ok(h.client(h.requester).get(url))["pending_reattestations"]
    assert pending == [{"guideline": draft["id"], "code": "data-ethics", "version": 2}]
    refused(h.client(h.member).post(f"{url}reattest/"), 403, "owner")
    assert h.client(h.other_requester).post(f"{url}reattest/").status_code == 404
    done = ok(h.client(h.requester).post(f"{url}reattest/"))
    assert done["pending_reattestations"] == []
    assert ReattestationRequest.objects.get(ai_system=h.system).completed_at is not None
    assert h.system.attestations.filter(guideline_id=draft["id"]).count() == 2
    assert Event.objects.filter(verb="system.attested", target_id=str(h.system.pk)).exists()


def test_an_older_draft_cannot_replace_a_newer_published_version(hospital):
    h = hospital
    api = h.client(h.admin)
    body = {"code": "data-ethics", "title_en": "Data ethics", "effective_date": "2027-01-01", "clauses": CLAUSES}
    older = ok(api.post("/api/v1/guidelines/", {**body, "version": 2}, format="json"), 201)
    newer = ok(api.post("/api/v1/guidelines/", {**body, "version": 3}, format="json"), 201)
    ok(api.post(f"/api/v1/guidelines/{newer['id']}/publish/"))

    refused(api.post(f"/api/v1/guidelines/{older['id']}/publish/"), 409, "Version 3")
    assert Guideline.objects.get(pk=newer["id"]).status == Guideline.Status.EFFECTIVE
