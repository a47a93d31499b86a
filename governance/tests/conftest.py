"""A small hospital: committee, audit team, guideline, policies, the sample benchmark and an AI system."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from audits import services as audit_services
from audits.models import Audit
from benchmark import services as benchmark_services
from governance import services
from governance.models import (
    ApprovalPolicy,
    AuditTeamMembership,
    CommitteeMembership,
    Guideline,
    GuidelineClause,
    PolicyThreshold,
    Role,
)
from governance.tests.factories import DepartmentFactory, UserFactory

SAMPLE = Path(__file__).resolve().parents[2] / "benchmark" / "data" / "sample_suite.jsonl"
SCENARIOS_PATH = SAMPLE.with_name("sample_scenarios.jsonl")


@dataclass
class Hospital:
    requester: object
    other_requester: object
    auditor: object
    chair: object
    secretary: object
    member: object
    conflicted: object
    lay: object
    admin: object
    outsider: object
    committee: object
    team: object
    guideline: object
    suite: object
    version: object
    system: object

    def client(self, user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client


def build_hospital() -> Hospital:
    cardiology = DepartmentFactory(code="cardiology", name_en="Cardiology", name_zh="心内科")
    requester = UserFactory(username="alice", roles=[Role.REQUESTER])
    other_requester = UserFactory(username="olga", roles=[Role.REQUESTER])
    auditor = UserFactory(username="aud", roles=[Role.AUDITOR])
    chair, secretary, member, conflicted, lay = (
        UserFactory(username=name) for name in ("chair", "sec", "mem", "cof", "lay")
    )
    admin = UserFactory(username="admin", roles=[Role.COMPLIANCE_ADMIN])
    outsider = UserFactory(username="outsider", roles=[Role.IRB_MEMBER, Role.AUDITOR])
    R = CommitteeMembership.CommitteeRole
    committee = services.committee_create(
        name="Hospital IRB",
        is_default=True,
        members=[(chair, R.CHAIR), (secretary, R.SECRETARY), (member, R.MEMBER), (conflicted, R.MEMBER), (lay, R.LAY)],
    )
    services.committee_create(name="Other IRB", members=[(outsider, R.CHAIR)])
    team = services.audit_team_create(name="LLM audit team", members=[(auditor, AuditTeamMembership.TeamRole.LEAD)])
    services.audit_team_create(name="Other team", members=[(outsider, AuditTeamMembership.TeamRole.LEAD)])
    guideline = Guideline.objects.create(
        code="data-ethics", version=1, title_en="Data ethics", title_zh="数据伦理", effective_date=date(2026, 1, 1)
    )
    for number, topic in enumerate(["deidentification", "minimum_necessary", "human_oversight"], start=1):
        GuidelineClause.objects.create(
            guideline=guideline,
            number=str(number),
            position=number,
            topic=topic,
            text_en=f"Clause {number}",
            text_zh=f"条款{number}",
        )
    services.guideline_publish(guideline=guideline, by=admin)
    with SAMPLE.open("rb") as handle:
        version = benchmark_services.benchmark_version_import(
            suite_name="MedEthicsSafety", lines=handle, filename=SAMPLE.name, label="2026.1"
        )
    for tier, expedited in (("low", True), ("medium", True), ("high", False)):
        # No approval_months: the tier's default applies (12 months, 6 for high).
        policy = ApprovalPolicy.objects.create(
            risk_tier=tier,
            name=f"{tier} tier",
            required_suite=version.suite,
            allow_expedited=expedited,
            max_refusal_rate=0.2,
            max_error_rate=0.02,
        )
        PolicyThreshold.objects.create(policy=policy, scope="overall", min_lower_bound=0.5)
        PolicyThreshold.objects.create(policy=policy, scope="each_dimension", target="safety", min_lower_bound=0.4)
    system = services.ai_system_register(
        by=requester,
        name="Discharge summary assistant",
        vendor="Acme Health AI",
        model_name="acme-med-7b",
        model_version="1.0",
        intended_use="Drafting discharge summaries for physician review.",
        owner_department=cardiology,
    )
    return Hospital(
        requester,
        other_requester,
        auditor,
        chair,
        secretary,
        member,
        conflicted,
        lay,
        admin,
        outsider,
        committee,
        team,
        guideline,
        version.suite,
        version,
        system,
    )


@pytest.fixture
def hospital(db) -> Hospital:
    return build_hospital()


def register_endpoint(name: str, url: str, team=None):
    endpoint, _created = audit_services.endpoint_register(
        name=name, base_url=url, model="medgov-sim-1", max_concurrency=16, timeout_s=10, team=team
    )
    return endpoint


def run_queued_audits_inline(request) -> list[Audit]:
    """Run the request's queued audits in this process with the same services a worker calls."""
    from governance.services import on_audit_finished

    finished = []
    for audit in Audit.objects.filter(deployment_request=request, status=Audit.Status.QUEUED):
        audit_services.audit_run_in_process(audit=audit)
        on_audit_finished(audit_id=audit.pk)
        finished.append(audit)
    return finished
