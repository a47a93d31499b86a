"""One deployment request through every path of the workflow, through the API as the right roles, and
every forbidden move refused with a clear message."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audits.models import Audit
from governance import services
from governance.events import verify_event_chain
from governance.models import AISystem, Condition, DeploymentRequest, Event, Meeting
from governance.tests.conftest import register_endpoint, run_queued_audits_inline
from governance.tests.steps import (
    approve_without_evidence,
    expedited_review_recommending_approval,
    file_request,
    ok,
    refused,
    to_screening,
)

pytestmark = pytest.mark.django_db(transaction=True)
S = DeploymentRequest.Status


def audited(h, request_id) -> DeploymentRequest:
    ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{request_id}/send-to-audit/", {"audit_team": h.team.pk}, format="json"
        )
    )
    auditor = h.client(h.auditor)
    for audit in Audit.objects.filter(deployment_request_id=request_id):
        ok(auditor.post(f"/api/v1/audits/{audit.pk}/start/"))
    request = DeploymentRequest.objects.get(pk=request_id)
    run_queued_audits_inline(request)
    request.refresh_from_db()
    return request


def hold_meeting(h, request_id, present):
    secretary = h.client(h.secretary)
    meeting = ok(
        secretary.post(
            "/api/v1/meetings/",
            {"committee": h.committee.pk, "scheduled_for": timezone.now().isoformat(), "location": "Room 3"},
            format="json",
        ),
        201,
    )
    ok(secretary.post(f"/api/v1/meetings/{meeting['id']}/agenda/", {"request": request_id}, format="json"), 201)
    return ok(
        secretary.post(
            f"/api/v1/meetings/{meeting['id']}/attendance/", {"present": [u.pk for u in present]}, format="json"
        )
    )


def test_clarification_loop_then_expedited_approval(hospital, simulator_factory):
    h = hospital
    endpoint = register_endpoint("good", simulator_factory("--accuracy", "0.97"))
    request = file_request(h, endpoint)
    rid = request["id"]
    assert request["status"] == "draft" and request["risk_tier"] == "low"
    assert request["reference"].startswith("DR-")

    refused(h.client(h.requester).post(f"/api/v1/deployment-requests/{rid}/submit/"), 400, "Attest every clause")
    to_screening(h, rid)
    refused(
        h.client(h.requester).post(f"/api/v1/deployment-requests/{rid}/screen/"), 403, "chair, vice-chair or secretary"
    )
    assert h.client(h.other_requester).get(f"/api/v1/deployment-requests/{rid}/").status_code == 404
    assert h.client(h.outsider).get(f"/api/v1/deployment-requests/{rid}/").status_code == 404

    secretary = h.client(h.secretary)
    ok(
        secretary.post(
            f"/api/v1/deployment-requests/{rid}/request-clarification/",
            {"question": "Which wards will use it first?"},
            format="json",
        )
    )
    refused(
        secretary.post(f"/api/v1/deployment-requests/{rid}/send-to-audit/", {"audit_team": h.team.pk}, format="json"),
        409,
        "cannot move",
    )
    answered = ok(
        h.client(h.requester).post(
            f"/api/v1/deployment-requests/{rid}/respond/", {"answer": "Cardiology ward 5 only."}, format="json"
        )
    )
    assert answered["status"] == "screening"
    assert [m["kind"] for m in answered["clarifications"]] == ["question", "response"]

    request = audited(h, rid)
    assert request.status == S.EXPEDITED_REVIEW, request.status
    assert request.review_type == "expedited"
    evaluation = ok(h.client(h.member).get(f"/api/v1/deployment-requests/{rid}/evaluation/"))
    assert evaluation["passed"] is True, evaluation

    ok(
        secretary.post(f"/api/v1/deployment-requests/{rid}/assign-reviewer/", {"reviewer": h.member.pk}, format="json"),
        201,
    )
    refused(
        secretary.post(
            f"/api/v1/deployment-requests/{rid}/assign-reviewer/", {"reviewer": h.secretary.pk}, format="json"
        ),
        400,
        "voting member",
    )
    reviewer = h.client(h.member)
    refused(
        reviewer.post(f"/api/v1/deployment-requests/{rid}/determine/", {"determination": "approved"}, format="json"),
        400,
        "review first",
    )
    ok(reviewer.post(f"/api/v1/deployment-requests/{rid}/review/", {"recommendation": "approve"}, format="json"))
    refused(
        reviewer.post(f"/api/v1/deployment-requests/{rid}/determine/", {"determination": "disapproved"}, format="json"),
        400,
        "full board",
    )
    refused(
        h.client(h.lay).post(
            f"/api/v1/deployment-requests/{rid}/determine/", {"determination": "approved"}, format="json"
        ),
        403,
        "assigned reviewer or the chair",
    )
    approved = ok(
        reviewer.post(
            f"/api/v1/deployment-requests/{rid}/determine/",
            {"determination": "approved", "rationale": "Policy met; low risk."},
            format="json",
        )
    )
    assert approved["status"] == "active" and approved["determination"] == "approved"
    expires = DeploymentRequest.objects.get(pk=rid).expires_at
    assert timedelta(days=360) < expires - timezone.now() < timedelta(days=370)
    assert AISystem.objects.get(pk=h.system.pk).status == AISystem.Status.APPROVED
    refused(
        h.client(h.member).post(f"/api/v1/deployment-requests/{rid}/mark-deployed/"), 403, "requester or the system"
    )
    deployed = ok(h.client(h.requester).post(f"/api/v1/deployment-requests/{rid}/mark-deployed/"))
    assert deployed["deployed_at"] and "mark_deployed" not in deployed["available_actions"]
    assert AISystem.objects.get(pk=h.system.pk).status == AISystem.Status.DEPLOYED
    refused(h.client(h.requester).post(f"/api/v1/deployment-requests/{rid}/mark-deployed/"), 409, "already in use")
    verbs = list(Event.objects.filter(request_id=rid).values_list("verb", flat=True))
    for verb in (
        "request.created",
        "request.attested",
        "request.submit",
        "request.screen",
        "request.request_clarification",
        "request.respond",
        "request.send_to_audit",
        "request.start_review",
        "request.reviewer_assigned",
        "request.review_submitted",
        "request.determine",
        "request.deployed",
        "system.status_changed",
    ):
        assert verb in verbs, verb
    timeline = ok(h.client(h.requester).get(f"/api/v1/deployment-requests/{rid}/timeline/"))
    assert timeline[0]["verb"] == "request.created"


def test_full_board_approval_with_conditions_and_a_recused_member(hospital, simulator_factory):
    h = hospital
    endpoint = register_endpoint("good", simulator_factory("--accuracy", "0.97"))
    rid = file_request(h, endpoint, patient_facing=True, influences_clinical_decisions=True)["id"]
    assert DeploymentRequest.objects.get(pk=rid).risk_tier == "high"
    to_screening(h, rid)
    refused(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/start-review/", {"review_type": "expedited"}, format="json"
        ),
        400,
        "needs full-board review",
    )
    request = audited(h, rid)
    assert request.status == S.FULL_BOARD_REVIEW

    conflicted = h.client(h.conflicted)
    refused(
        conflicted.post(f"/api/v1/deployment-requests/{rid}/declare-conflict/", {"has_conflict": True}, format="json"),
        400,
        "Describe the conflict",
    )
    ok(
        conflicted.post(
            f"/api/v1/deployment-requests/{rid}/declare-conflict/",
            {"has_conflict": True, "reason": "I consulted for the vendor."},
            format="json",
        )
    )
    refused(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/assign-reviewer/", {"reviewer": h.conflicted.pk}, format="json"
        ),
        400,
        "recused",
    )

    meeting = hold_meeting(h, rid, present=[h.chair, h.secretary, h.member, h.conflicted, h.lay])
    assert meeting["quorum"]["met"] is True
    refused(
        conflicted.post(f"/api/v1/deployment-requests/{rid}/vote/", {"choice": "approve"}, format="json"),
        403,
        "recused",
    )
    refused(
        h.client(h.secretary).post(f"/api/v1/deployment-requests/{rid}/vote/", {"choice": "approve"}, format="json"),
        403,
        "does not vote",
    )
    for user, choice in (
        (h.chair, "approve_with_conditions"),
        (h.member, "approve_with_conditions"),
        (h.lay, "approve"),
    ):
        ok(h.client(user).post(f"/api/v1/deployment-requests/{rid}/vote/", {"choice": choice}, format="json"), 201)
    refused(
        h.client(h.lay).post(f"/api/v1/deployment-requests/{rid}/vote/", {"choice": "approve"}, format="json"),
        400,
        "already voted",
    )
    secretary = h.client(h.secretary)
    refused(
        secretary.post(f"/api/v1/deployment-requests/{rid}/determine/", {"determination": "approved"}, format="json"),
        400,
        "must follow the vote",
    )
    refused(
        secretary.post(
            f"/api/v1/deployment-requests/{rid}/determine/",
            {"determination": "approved_with_conditions"},
            format="json",
        ),
        400,
        "State the conditions",
    )
    conditions = [
        {
            "text": "Medication safety must hold on every monthly re-audit.",
            "kind": "dimension_lower_bound",
            "dimension_code": "safety.medication",
            "threshold": 0.4,
            "on_breach": "suspend",
        },
        {"text": "Re-audit at least every 30 days.", "kind": "reaudit_interval", "days": 30, "on_breach": "flag"},
    ]
    done = ok(
        secretary.post(
            f"/api/v1/deployment-requests/{rid}/determine/",
            {"determination": "approved_with_conditions", "conditions": conditions},
            format="json",
        )
    )
    assert done["status"] == "active" and len(done["conditions"]) == 2
    expires = DeploymentRequest.objects.get(pk=rid).expires_at
    # The high tier's policy sets no period: the tier default of six months applies.
    assert timedelta(days=175) < expires - timezone.now() < timedelta(days=190)


def test_no_quorum_no_vote(hospital):
    h = hospital
    endpoint = register_endpoint("any", "http://127.0.0.1:9/v1")
    rid = file_request(h, endpoint)["id"]
    to_screening(h, rid)
    ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/start-review/", {"review_type": "full_board"}, format="json"
        )
    )
    meeting = hold_meeting(h, rid, present=[h.chair, h.member, h.conflicted])
    assert meeting["quorum"]["met"] is False
    refused(
        h.client(h.chair).post(f"/api/v1/deployment-requests/{rid}/vote/", {"choice": "approve"}, format="json"),
        409,
        "No lay or unaffiliated member",
    )
    meeting2 = hold_meeting(h, rid, present=[h.chair, h.lay])
    assert meeting2["quorum"]["met"] is False
    refused(
        h.client(h.chair).post(f"/api/v1/deployment-requests/{rid}/vote/", {"choice": "approve"}, format="json"),
        409,
        "a majority is needed",
    )


def test_disapproval_by_the_full_board(hospital):
    h = hospital
    endpoint = register_endpoint("any", "http://127.0.0.1:9/v1")
    rid = file_request(h, endpoint)["id"]
    to_screening(h, rid)
    ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/start-review/", {"review_type": "full_board"}, format="json"
        )
    )
    hold_meeting(h, rid, present=[h.chair, h.member, h.conflicted, h.lay])
    for user in (h.chair, h.member, h.conflicted):
        ok(
            h.client(user).post(f"/api/v1/deployment-requests/{rid}/vote/", {"choice": "disapprove"}, format="json"),
            201,
        )
    ok(h.client(h.lay).post(f"/api/v1/deployment-requests/{rid}/vote/", {"choice": "abstain"}, format="json"), 201)
    done = ok(
        h.client(h.chair).post(
            f"/api/v1/deployment-requests/{rid}/determine/",
            {"determination": "disapproved", "rationale": "No audit evidence."},
            format="json",
        )
    )
    assert done["status"] == "disapproved"
    refused(h.client(h.requester).post(f"/api/v1/deployment-requests/{rid}/resubmit/"), 409, "resubmitted")


def test_modifications_required_then_resubmission_keeps_history(hospital):
    h = hospital
    endpoint = register_endpoint("any", "http://127.0.0.1:9/v1")
    rid = file_request(h, endpoint)["id"]
    to_screening(h, rid)
    ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/start-review/", {"review_type": "full_board"}, format="json"
        )
    )
    hold_meeting(h, rid, present=[h.chair, h.member, h.lay])
    for user in (h.chair, h.member, h.lay):
        ok(
            h.client(user).post(
                f"/api/v1/deployment-requests/{rid}/vote/", {"choice": "modifications_required"}, format="json"
            ),
            201,
        )
    ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/determine/",
            {"determination": "modifications_required", "rationale": "Describe the fallback."},
            format="json",
        )
    )
    requester = h.client(h.requester)
    patched = ok(
        requester.patch(
            f"/api/v1/deployment-requests/{rid}/",
            {"fallback_plan": "Paper template; on-call registrar signs off."},
            format="json",
        )
    )
    assert patched["status"] == "modifications_required"
    resubmitted = ok(requester.post(f"/api/v1/deployment-requests/{rid}/resubmit/"))
    assert resubmitted["status"] == "submitted" and resubmitted["round"] == 2 and resubmitted["determination"] == ""
    ok(h.client(h.secretary).post(f"/api/v1/deployment-requests/{rid}/screen/"))
    ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/start-review/", {"review_type": "full_board"}, format="json"
        )
    )
    hold_meeting(h, rid, present=[h.chair, h.member, h.lay])
    ok(h.client(h.chair).post(f"/api/v1/deployment-requests/{rid}/vote/", {"choice": "approve"}, format="json"), 201)
    verbs = list(Event.objects.filter(request_id=rid).values_list("verb", flat=True))
    assert verbs.count("request.submit") == 1 and verbs.count("request.resubmit") == 1
    assert verbs.count("request.vote") == 4  # three in round 1, one in round 2


def test_approval_despite_a_failed_gate_needs_a_recorded_justification(hospital):
    h = hospital
    endpoint = register_endpoint("any", "http://127.0.0.1:9/v1")
    rid = file_request(h, endpoint)["id"]
    to_screening(h, rid)
    reviewer = expedited_review_recommending_approval(h, rid)
    refused(
        reviewer.post(f"/api/v1/deployment-requests/{rid}/determine/", {"determination": "approved"}, format="json"),
        400,
        "approval policy is not met",
    )
    done = ok(
        reviewer.post(
            f"/api/v1/deployment-requests/{rid}/determine/",
            {"determination": "approved", "override_justification": "Pilot in one ward, audit pending."},
            format="json",
        )
    )
    assert done["status"] == "active" and done["policy_override_justification"]
    assert Event.objects.filter(request_id=rid, verb="request.policy_override").exists()


def approve_with_condition(h, endpoint, conditions) -> int:
    rid = file_request(h, endpoint)["id"]
    to_screening(h, rid)
    audited(h, rid)
    ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/assign-reviewer/", {"reviewer": h.member.pk}, format="json"
        ),
        201,
    )
    reviewer = h.client(h.member)
    ok(
        reviewer.post(
            f"/api/v1/deployment-requests/{rid}/review/", {"recommendation": "approve_with_conditions"}, format="json"
        )
    )
    ok(
        reviewer.post(
            f"/api/v1/deployment-requests/{rid}/determine/",
            {"determination": "approved_with_conditions", "conditions": conditions},
            format="json",
        )
    )
    return rid


def test_a_failing_scheduled_reaudit_with_a_changed_model_suspends_the_approval(hospital, simulator_factory):
    from audits import services as audit_services
    from conftest import free_port

    h = hospital
    port = free_port()
    url = simulator_factory("--accuracy", "0.97", "--model", "vendor-model-v1", port=port)
    endpoint = register_endpoint("prod", url)
    rid = approve_with_condition(
        h,
        endpoint,
        [
            {
                "text": "Medication safety lower bound ≥ 0.4 on every re-audit",
                "kind": "dimension_lower_bound",
                "dimension_code": "safety.medication",
                "threshold": 0.4,
                "on_breach": "suspend",
            },
            {"text": "Same model behind the endpoint", "kind": "same_model", "on_breach": "flag"},
        ],
    )
    assert DeploymentRequest.objects.get(pk=rid).status == S.ACTIVE
    ok(h.client(h.requester).post(f"/api/v1/deployment-requests/{rid}/mark-deployed/"))
    # The vendor silently swaps the model behind the same URL for a worse one.
    simulator_factory.processes[url].stop()
    simulator_factory("--accuracy", "0.1", "--model", "vendor-model-v2", port=port)
    schedule = ok(
        h.client(h.auditor).post(
            "/api/v1/audit-schedules/",
            {
                "name": "monthly",
                "endpoint": endpoint.pk,
                "suite": h.suite.pk,
                "interval_hours": 720,
                "deployment_request": rid,
                "next_run_at": timezone.now().isoformat(),
            },
            format="json",
        ),
        201,
    )
    # The beat and a worker do the rest.
    [audit_id] = audit_services.audit_schedules_run_due()
    audit = Audit.objects.get(pk=audit_id)
    assert audit.schedule_id == schedule["id"]
    audit_services.audit_start(audit_id=audit_id)
    for chunk_id in audit.chunks.values_list("id", flat=True):
        audit_services.audit_chunk_run(chunk_id=chunk_id)
    services.on_audit_finished(audit_id=audit_id)
    audit.refresh_from_db()
    assert audit.fingerprint_changed is True and audit.fingerprint["model_reported"] == "vendor-model-v2"
    request = DeploymentRequest.objects.get(pk=rid)
    assert request.status == S.SUSPENDED
    assert AISystem.objects.get(pk=h.system.pk).status == AISystem.Status.SUSPENDED
    breached = {c.kind: c for c in Condition.objects.filter(request_id=rid)}
    assert breached["dimension_lower_bound"].status == "breached"
    assert "safety.medication lower bound" in breached["dimension_lower_bound"].breach_detail
    assert breached["same_model"].status == "breached"
    assert h.requester.notifications.filter(verb="request.suspended").exists()
    assert h.chair.notifications.filter(verb="request.suspended").exists()
    reinstated = h.client(h.chair).post(
        f"/api/v1/deployment-requests/{rid}/reinstate/", {"reason": "Vendor rolled back to v1."}, format="json"
    )
    assert ok(reinstated)["status"] == "active"
    assert AISystem.objects.get(pk=h.system.pk).status == AISystem.Status.DEPLOYED  # back in use


def test_continuing_review_renewal_and_expiry(hospital, simulator_factory):
    h = hospital
    endpoint = register_endpoint("good", simulator_factory("--accuracy", "0.97"))
    rid = approve_with_condition(h, endpoint, [{"text": "Report incidents within 24 h."}])
    request = DeploymentRequest.objects.get(pk=rid)
    report = services.continuing_review_sweep(now=request.expires_at - timedelta(days=10))
    assert report["due"] == 1
    request.refresh_from_db()
    assert request.status == S.CONTINUING_REVIEW_DUE
    refused(h.client(h.member).post(f"/api/v1/deployment-requests/{rid}/renew/", {}, format="json"), 403, "chair")
    previous_expiry = request.expires_at
    renewed = ok(
        h.client(h.chair).post(
            f"/api/v1/deployment-requests/{rid}/renew/", {"rationale": "Fresh audit passes."}, format="json"
        )
    )
    assert renewed["status"] == "active" and renewed["renewal_count"] == 1 and renewed["renewed_at"]
    request.refresh_from_db()
    assert request.expires_at > previous_expiry
    timeline = ok(h.client(h.requester).get(f"/api/v1/deployment-requests/{rid}/timeline/"))
    [renewal] = [event for event in timeline if event["verb"] == "request.renew"]
    assert renewal["data"]["renewed"] is True and renewal["actor"]["username"] == h.chair.username
    assert renewal["data"]["renewal"] == 1 and renewal["data"]["expires_at"] == request.expires_at.isoformat()
    assert renewal["data"]["previous_expires_at"] == previous_expiry.isoformat()
    assert AISystem.objects.get(pk=h.system.pk).status == AISystem.Status.APPROVED
    # The daily beat task, a year on.
    report = services.continuing_review_sweep(now=request.expires_at + timedelta(days=1))
    assert report["expired"] == 1
    request.refresh_from_db()
    assert request.status == S.EXPIRED
    # Expired: no longer approved; a new request can approve the system again.
    assert AISystem.objects.get(pk=h.system.pk).status == AISystem.Status.PROPOSED
    refused(
        h.client(h.chair).post(f"/api/v1/deployment-requests/{rid}/reinstate/", {"reason": "x"}, format="json"),
        409,
        "cannot move",
    )


def test_incidents_go_to_the_committee_and_can_suspend(hospital):
    h = hospital
    endpoint = register_endpoint("any", "http://127.0.0.1:9/v1")
    rid = file_request(h, endpoint)["id"]
    refused(
        h.client(h.requester).post(
            f"/api/v1/deployment-requests/{rid}/incidents/",
            {"severity": "severe", "description": "x", "occurred_at": timezone.now().isoformat()},
            format="json",
        ),
        409,
        "approved",
    )
    to_screening(h, rid)
    approve_without_evidence(h, rid)
    incident = ok(
        h.client(h.requester).post(
            f"/api/v1/deployment-requests/{rid}/incidents/",
            {
                "severity": "severe",
                "description": "Draft omitted a warfarin dose change.",
                "occurred_at": timezone.now().isoformat(),
            },
            format="json",
        ),
        201,
    )
    assert h.chair.notifications.filter(verb="incident.reported").exists()
    refused(
        h.client(h.requester).post(
            f"/api/v1/incidents/{incident['id']}/review/", {"outcome": "x", "suspend": True}, format="json"
        ),
        403,
        "chair",
    )
    ok(
        h.client(h.secretary).post(
            f"/api/v1/incidents/{incident['id']}/review/",
            {"outcome": "Suspend pending root-cause analysis.", "suspend": True},
            format="json",
        )
    )
    assert DeploymentRequest.objects.get(pk=rid).status == S.SUSPENDED
    assert AISystem.objects.get(pk=h.system.pk).status == AISystem.Status.SUSPENDED
    terminated = ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/terminate/", {"reason": "Vendor cannot fix it."}, format="json"
        )
    )
    assert terminated["status"] == "terminated"
    assert AISystem.objects.get(pk=h.system.pk).status == AISystem.Status.RETIRED


def test_the_auditing_stage_moves_on_when_a_real_worker_finishes_the_audits(hospital, celery_worker, simulator_factory):
    from audits.tests.helpers import wait_until

    h = hospital
    endpoint = register_endpoint("good", simulator_factory("--accuracy", "0.97"))
    rid = file_request(h, endpoint)["id"]
    to_screening(h, rid)
    ok(
        h.client(h.secretary).post(
            f"/api/v1/deployment-requests/{rid}/send-to-audit/", {"audit_team": h.team.pk}, format="json"
        )
    )
    audits = list(Audit.objects.filter(deployment_request_id=rid))
    assert audits and all(audit.status == Audit.Status.SCHEDULED for audit in audits)
    assert h.client(h.outsider).post(f"/api/v1/audits/{audits[0].pk}/start/").status_code == 404
    for audit in audits:
        ok(h.client(h.auditor).post(f"/api/v1/audits/{audit.pk}/start/"))
    wait_until(
        lambda: DeploymentRequest.objects.get(pk=rid).status == S.EXPEDITED_REVIEW,
        timeout=90,
        message="request moved to review",
    )


def test_the_event_log_is_hash_chained_and_tampering_is_detected(hospital):
    from django.core.management import call_command
    from django.db import connection

    h = hospital
    endpoint = register_endpoint("any", "http://127.0.0.1:9/v1")
    rid = file_request(h, endpoint)["id"]
    to_screening(h, rid)
    assert verify_event_chain().ok
    call_command("verify_event_log")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE governance_event DISABLE TRIGGER medgov_event_append_only")
        cursor.execute("UPDATE governance_event SET data = '{\"reason\": \"edited\"}' WHERE verb = 'request.submit'")
        cursor.execute("ALTER TABLE governance_event ENABLE TRIGGER medgov_event_append_only")
    report = verify_event_chain()
    tampered = Event.objects.get(verb="request.submit")
    assert report.ok is False and report.first_bad_seq == tampered.seq
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_event_log")
    assert exit_info.value.code == 1


def test_meeting_visibility_is_limited_to_the_committee(hospital):
    h = hospital
    meeting = Meeting.objects.create(committee=h.committee, scheduled_for=timezone.now(), created_by=h.secretary)
    assert h.client(h.member).get(f"/api/v1/meetings/{meeting.pk}/").status_code == 200
    assert h.client(h.outsider).get(f"/api/v1/meetings/{meeting.pk}/").status_code == 404
    assert h.client(h.admin).get(f"/api/v1/meetings/{meeting.pk}/").status_code == 200
