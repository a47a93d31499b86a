"""Guideline versions and re-attestation, notifications by e-mail, amendments, risk tiers, the admin."""

from datetime import date

import pytest
from django.core import mail

from config.errors import ServiceError, TransitionNotAllowed
from governance import services
from governance.models import AISystem, DeploymentRequest, Guideline, GuidelineClause, Notification, RiskTier

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("answers", "tier"),
    [
        ({}, RiskTier.LOW),
        ({"identifiable_data": True}, RiskTier.MEDIUM),
        ({"patient_facing": True}, RiskTier.MEDIUM),
        ({"clinical_decisions": True}, RiskTier.MEDIUM),
        ({"clinical_decisions": True, "patient_facing": True}, RiskTier.HIGH),
        ({"identifiable_data": True, "vendor_cloud": True, "patient_facing": True}, RiskTier.HIGH),
    ],
)
def test_the_risk_tier_follows_from_the_intake_answers(answers, tier):
    base = {"patient_facing": False, "identifiable_data": False, "clinical_decisions": False, "vendor_cloud": False}
    assert services.derive_risk_tier(**{**base, **answers}) == tier


def test_a_new_guideline_version_supersedes_and_asks_owners_to_attest_again(hospital):
    h = hospital
    AISystem.objects.filter(pk=h.system.pk).update(status=AISystem.Status.DEPLOYED)
    v2 = Guideline.objects.create(
        code="data-ethics", version=2, title_en="Data ethics", effective_date=date(2027, 1, 1)
    )
    with pytest.raises(ServiceError, match="at least one clause"):
        services.guideline_publish(guideline=v2, by=h.admin)
    GuidelineClause.objects.create(guideline=v2, number="1", topic="retention", text_en="Delete after 90 days")
    with pytest.raises(ServiceError):
        services.guideline_publish(guideline=v2, by=h.requester)  # only compliance administrators publish
    services.guideline_publish(guideline=v2, by=h.admin)
    h.guideline.refresh_from_db()
    v2.refresh_from_db()
    assert (h.guideline.status, v2.status, v2.supersedes) == ("superseded", "effective", h.guideline)
    request = h.requester.reattestation_requests.get()
    assert request.ai_system == h.system and request.guideline == v2
    assert h.requester.notifications.filter(verb="guideline.reattest").exists()
    services.system_reattest(system=h.system, by=h.requester)
    request.refresh_from_db()
    assert request.completed_at is not None
    assert services.current_guideline() == v2


def test_notifications_are_emailed(hospital, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    h = hospital
    draft = services.request_create(by=h.requester, ai_system=h.system, title="t", intended_use="x")
    services.notify([h.chair], verb="test", message="Please review DR-1", link=f"/requests/{draft.pk}/")
    note = Notification.objects.get(user=h.chair, verb="test")
    services.notification_send_email(notification_id=note.pk)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [h.chair.email] and "Please review DR-1" in mail.outbox[0].subject
    assert f"/requests/{draft.pk}/" in mail.outbox[0].body


def test_an_amendment_is_a_child_request_of_an_approved_one(hospital):
    h = hospital
    parent = services.request_create(by=h.requester, ai_system=h.system, title="Original", intended_use="x")
    with pytest.raises(TransitionNotAllowed, match="approved"):
        services.amendment_create(parent=parent, by=h.requester, amendment_kind="new_use")
    from django.utils import timezone

    DeploymentRequest.objects.filter(pk=parent.pk).update(status="active", expires_at=timezone.now())
    with pytest.raises(ServiceError, match="what the amendment changes"):
        services.amendment_create(parent=parent, by=h.requester, amendment_kind="")
    amendment = services.amendment_create(
        parent=parent, by=h.requester, amendment_kind="new_model_version", title="New model version 2.0"
    )
    assert amendment.kind == "amendment" and amendment.parent == parent and amendment.status == "draft"
    assert amendment.amendment_kind == "new_model_version"
    assert amendment.title == "New model version 2.0" and amendment.intended_use == "x"
    with pytest.raises(ServiceError):
        services.amendment_create(parent=parent, by=h.other_requester, amendment_kind="new_use")


def test_the_admin_pages_for_configuration_render(client, django_user_model, hospital):
    admin = django_user_model.objects.create_superuser("root", "r@hospital.test", "correct-horse-battery-staple")
    client.force_login(admin)
    for path in (
        "/admin/",
        "/admin/benchmark/dimension/",
        "/admin/governance/approvalpolicy/",
        "/admin/governance/irbcommittee/",
        f"/admin/governance/irbcommittee/{h_committee(hospital)}/change/",
        "/admin/governance/guideline/",
        "/admin/audits/auditschedule/",
        "/admin/audits/modelendpoint/",
        "/admin/governance/auditteam/",
        "/admin/audits/audit/",
    ):
        assert client.get(path).status_code == 200, path


def h_committee(hospital):
    return hospital.committee.pk


def test_compliance_administrators_override_a_systems_risk_tier_with_a_reason(hospital, client):
    from governance.models import Event

    h = hospital
    url = f"/api/v1/ai-systems/{h.system.pk}/override-tier/"
    refused = h.client(h.requester).post(url, {"risk_tier": "low", "reason": "mine"}, format="json")
    assert refused.status_code == 403
    no_reason = h.client(h.admin).post(url, {"risk_tier": "low", "reason": " "}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.content.decode()
    bad_tier = h.client(h.admin).post(url, {"risk_tier": "extreme", "reason": "x"}, format="json")
    assert bad_tier.status_code == 400
    done = h.client(h.admin).post(url, {"risk_tier": "high", "reason": "Used in triage after all"}, format="json")
    assert done.status_code == 200
    assert done.json()["risk_tier"] == "high" and done.json()["risk_tier_override_reason"] == "Used in triage after all"
    event = Event.objects.filter(verb="system.tier_overridden").latest("pk")
    assert event.data["to"] == "high" and event.data["reason"] == "Used in triage after all"

    # The same from the system's page.
    client.force_login(h.admin)
    page = client.get(f"/systems/{h.system.pk}/")
    assert b'name="risk_tier"' in page.content
    client.post(f"/systems/{h.system.pk}/", {"risk_tier": "medium", "reason": "Staff-facing only now"})
    h.system.refresh_from_db()
    assert (h.system.risk_tier, h.system.risk_tier_override_reason) == ("medium", "Staff-facing only now")
    client.force_login(h.requester)
    assert b'name="risk_tier"' not in client.get(f"/systems/{h.system.pk}/").content
    client.post(f"/systems/{h.system.pk}/", {"risk_tier": "low", "reason": "sneaky"})
    h.system.refresh_from_db()
    assert h.system.risk_tier == "medium"
