"""The compliance dashboard: numbers, links that select exactly what they count, access, CSV export, query bound."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from itertools import count
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audits.models import Audit, ModelEndpoint
from governance.dashboard import CSV_HEADER
from governance.filtersets import DeploymentRequestFilterSet
from governance.models import (
    AISystem,
    Condition,
    DeploymentRequest,
    Event,
    IncidentReport,
    Role,
)
from governance.tests.factories import AISystemFactory, DepartmentFactory, UserFactory

pytestmark = pytest.mark.django_db

DASHBOARD = "/dashboard/"
CSV_URL = "/dashboard/export.csv"
_references = count(1)


# --- Helpers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    href: str
    text: str
    id: str | None

    @property
    def path(self) -> str:
        return urlsplit(self.href).path

    @property
    def query(self) -> str:
        return urlsplit(self.href).query

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(self.query)

    @property
    def number(self) -> int:
        return int(self.text.split()[0])


class _LinkParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[Link] = []
        self._open: list[list] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open.append([dict(attrs), ""])

    def handle_data(self, data):
        for item in self._open:
            item[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            attrs, text = self._open.pop()
            self.links.append(Link(attrs.get("href") or "", " ".join(text.split()), attrs.get("id")))


def links_of(html: str) -> list[Link]:
    parser = _LinkParser()
    parser.feed(html)
    return parser.links


def link_with(links: list[Link], path: str, **params) -> Link:
    """The link to ``path`` whose query is exactly ``params`` (values: str or list, order-insensitive)."""
    wanted = {key: sorted(value if isinstance(value, list) else [str(value)]) for key, value in params.items()}
    found = [link for link in links if link.path == path and {k: sorted(v) for k, v in link.params.items()} == wanted]
    assert found, f"no link to {path} with {wanted}"
    return found[0]


def table(html: str, table_id: str) -> str:
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert match, table_id
    return match.group(0)


def systems_selected_by(link: Link):
    """What the AI-system list selects for the link's GET parameters (status, risk_tier, owner_department)."""
    names = {"status": "status", "risk_tier": "risk_tier", "owner_department": "owner_department_id"}
    return AISystem.objects.filter(**{names[key]: values[0] for key, values in link.params.items()})


def requests_selected_by(link: Link):
    filterset = DeploymentRequestFilterSet(QueryDict(link.query), queryset=DeploymentRequest.objects.all())
    assert filterset.is_valid(), filterset.errors
    return filterset.qs


def summary(accuracy: float, low: float, high: float, n: int = 100) -> dict:
    correct = round(accuracy * n)
    block = {
        "n": n,
        "correct": correct,
        "accuracy": accuracy,
        "ci_low": low,
        "ci_high": high,
        "refused": 2,
        "unparseable": 1,
        "empty": 0,
        "errors": 0,
        "partial_credit": accuracy,
        "mean_latency_ms": 812.4,
        "p95_latency_ms": 1930.0,
        "tokens_in": 41_230,
        "tokens_out": 3_904,
    }
    return {
        "overall": block,
        "categories": {"safety": dict(block)},
        "dimensions": {"safety.harm": dict(block), "safety.privacy": dict(block)},
    }


def make_audit(world, endpoint, *, days_ago: float, accuracy=0.8, low=0.72, high=0.86, status="completed") -> Audit:
    finished = world.now - timedelta(days=days_ago)
    scored = status in Audit.FINISHED_WITH_SCORES
    return Audit.objects.create(
        kind=Audit.Kind.BENCHMARK,
        endpoint=endpoint,
        benchmark_version=world.hospital.version,
        content_hash="c" * 64,
        prompt_template_version="mcq-v1",
        parser_version="parser-v1",
        status=status,
        total_items=100,
        done_items=100,
        created_at=finished - timedelta(hours=1),
        started_at=finished - timedelta(hours=1),
        finished_at=finished,
        scored_at=finished if scored else None,
        summary=summary(accuracy, low, high) if scored else {},
    )


def make_request(world, system, status, *, expires_in=None, approved_days_ago=None, endpoints=()):
    request = DeploymentRequest.objects.create(
        reference=f"DR-2026-{next(_references):04d}",
        ai_system=system,
        title=f"Deploy {system.name}",
        intended_use=system.intended_use,
        requester=world.hospital.requester,
        committee=world.hospital.committee,
        status=status,
        risk_tier=system.risk_tier,
        approved_at=None if approved_days_ago is None else world.now - timedelta(days=approved_days_ago),
        expires_at=None if expires_in is None else world.now + timedelta(days=expires_in),
    )
    request.endpoints.set(endpoints)
    return request


def make_endpoint(system, name: str) -> ModelEndpoint:
    return ModelEndpoint.objects.create(name=name, base_url="http://llm.internal:8000/v1", model="m", ai_system=system)


@dataclass
class World:
    hospital: object
    now: datetime
    cardiology: object = None
    radiology: object = None
    systems: dict = None
    requests: dict = None
    conditions: dict = None
    audits: dict = None


@pytest.fixture
def world(hospital) -> World:
    """Five systems in two departments, approvals expiring at different times, conditions, incidents, audits."""
    w = World(hospital=hospital, now=timezone.now())
    cardiology = hospital.system.owner_department
    radiology = DepartmentFactory(code="radiology", name_en="Radiology", name_zh="放射科")
    w.cardiology, w.radiology = cardiology, radiology
    AISystem.objects.filter(pk=hospital.system.pk).update(status="deployed", risk_tier="medium")
    hospital.system.refresh_from_db()
    s = w.systems = {
        "discharge": hospital.system,
        "ecg": AISystemFactory(name="心电图解读助手", owner_department=cardiology, status="deployed", risk_tier="high"),
        "radiology": AISystemFactory(
            name="Radiology report drafter", owner_department=radiology, status="suspended", risk_tier="high"
        ),
        "triage": AISystemFactory(
            name="Triage chatbot", owner_department=radiology, status="deployed", risk_tier="medium"
        ),
        "formula": AISystemFactory(name='=HYPERLINK("http://x")', owner_department=radiology, risk_tier="low"),
    }
    ep = {key: make_endpoint(s[key], f"endpoint-{key}") for key in ("discharge", "ecg", "radiology")}
    r = w.requests = {
        "r1": make_request(
            w, s["discharge"], "active", expires_in=10, approved_days_ago=355, endpoints=[ep["discharge"]]
        ),
        "r2": make_request(
            w, s["ecg"], "continuing_review_due", expires_in=45, approved_days_ago=100, endpoints=[ep["ecg"]]
        ),
        "r3": make_request(
            w, s["radiology"], "suspended", expires_in=80, approved_days_ago=200, endpoints=[ep["radiology"]]
        ),
        "r4": make_request(w, s["triage"], "active", expires_in=80, approved_days_ago=30),
        "r5": make_request(w, s["triage"], "active", expires_in=-2, approved_days_ago=370),  # expired, not swept
        "r6": make_request(w, s["formula"], "screening"),
        "r7": make_request(w, s["discharge"], "submitted"),
        "r8": make_request(w, s["ecg"], "active", expires_in=120, approved_days_ago=10, endpoints=[ep["ecg"]]),
    }
    owner = hospital.admin
    K, St = Condition.Kind, Condition.Status
    w.conditions = {
        "c1": Condition.objects.create(
            request=r["r1"], kind=K.REAUDIT_INTERVAL, days=30, text="Re-audit monthly", owner=owner
        ),
        "c2": Condition.objects.create(
            request=r["r2"], kind=K.REAUDIT_INTERVAL, days=30, text="Re-audit monthly", owner=owner
        ),
        "c3": Condition.objects.create(
            request=r["r4"], kind=K.REAUDIT_INTERVAL, days=20, text="Re-audit often", owner=owner
        ),
        "c4": Condition.objects.create(request=r["r3"], kind=K.REAUDIT_INTERVAL, days=1, text="Daily", owner=owner),
        "c5": Condition.objects.create(
            request=r["r1"], kind=K.REAUDIT_INTERVAL, days=10, text="Met already", owner=owner, status=St.MET
        ),
        "c6": Condition.objects.create(
            request=r["r2"], text="Train ward staff before go-live", owner=owner, due_date=w.now.date()
        ),
        "c7": Condition.objects.create(
            request=r["r3"],
            kind=K.OVERALL_LOWER_BOUND,
            threshold=0.5,
            text="Overall lower bound ≥ 0.5",
            owner=owner,
            status=St.BREACHED,
            breached_at=w.now - timedelta(days=3),
            breach_detail="overall lower bound 0.41 < 0.50 in audit #12",
        ),
    }
    reporter = hospital.requester
    IncidentReport.objects.create(
        request=r["r3"], reporter=reporter, severity="severe", description="Wrong laterality", occurred_at=w.now
    )
    IncidentReport.objects.create(
        request=r["r1"], reporter=reporter, severity="low", description="Typo in summary", occurred_at=w.now
    )
    IncidentReport.objects.create(
        request=r["r2"], reporter=reporter, severity="critical", description="Old", occurred_at=w.now, status="closed"
    )
    w.audits = {
        "d_old": make_audit(w, ep["discharge"], days_ago=100, accuracy=0.7, low=0.6, high=0.78),
        "d_latest": make_audit(w, ep["discharge"], days_ago=45, accuracy=0.8, low=0.72, high=0.86),
        "d_failed": make_audit(w, ep["discharge"], days_ago=2, status="failed"),
        "e_old": make_audit(
            w, ep["ecg"], days_ago=60, accuracy=0.88, low=0.8, high=0.93, status="completed_with_errors"
        ),
        "e_latest": make_audit(w, ep["ecg"], days_ago=5, accuracy=0.9123, low=0.85, high=0.95),
    }
    return w


@pytest.fixture
def admin_client(client, world):
    client.force_login(world.hospital.admin)
    return client


# --- Access ---------------------------------------------------------------------------------------


def test_urls_are_wired():
    assert reverse("governance:dashboard") == DASHBOARD
    assert reverse("governance:dashboard-csv") == CSV_URL


@pytest.mark.parametrize("url", [DASHBOARD, CSV_URL])
def test_it_hides_the_dashboard_from_requesters_and_irb_members(client, hospital, url):
    irb_member = UserFactory(username="irb-only", roles=[Role.IRB_MEMBER])
    auditor = UserFactory(username="auditor-only", roles=[Role.AUDITOR])
    for user in (hospital.requester, irb_member, auditor, hospital.chair):
        client.force_login(user)
        assert client.get(url).status_code == 404, user.username


@pytest.mark.parametrize("url", [DASHBOARD, CSV_URL])
def test_it_sends_anonymous_visitors_to_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_shows_the_dashboard_to_superusers(client, hospital):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    assert client.get(DASHBOARD).status_code == 200
    assert client.get(CSV_URL).status_code == 200


def test_it_renders_for_compliance_admin_with_an_empty_inventory(client, db):
    admin = UserFactory(username="compliance", roles=[Role.COMPLIANCE_ADMIN])
    client.force_login(admin)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No AI systems registered." in html
    assert "No re-audit is overdue." in html
    assert "No scored benchmark audits in this period." in html


# --- Numbers and links ----------------------------------------------------------------------------


def test_inventory_matrix_counts_and_links(admin_client, world):
    html = admin_client.get(DASHBOARD).content.decode()
    links = links_of(table(html, "inventory-table"))
    systems = reverse("governance:system-list")
    assert link_with(links, systems, status="deployed", risk_tier="medium").number == 2
    assert link_with(links, systems, status="deployed", risk_tier="high").number == 1
    assert link_with(links, systems, status="deployed", risk_tier="low").number == 0
    assert link_with(links, systems, status="suspended", risk_tier="high").number == 1
    assert link_with(links, systems, status="proposed", risk_tier="low").number == 1
    assert link_with(links, systems, status="deployed").number == 3  # row total
    assert link_with(links, systems, risk_tier="high").number == 2  # column total
    assert link_with(links, systems, risk_tier="medium").number == 2
    assert link_with(links, systems).number == 5  # grand total
    # 5 statuses × (3 tiers + row total) + 3 column totals + grand total
    assert len(links) == 5 * 4 + 3 + 1


def test_every_list_link_selects_exactly_the_number_it_shows(admin_client, world):
    html = admin_client.get(DASHBOARD).content.decode()
    systems, requests = reverse("governance:system-list"), reverse("governance:request-list")
    checked = 0
    for link in links_of(html):
        if not link.text[:1].isdigit():
            continue  # navigation
        if link.path == systems:
            assert systems_selected_by(link).count() == link.number, link
            checked += 1
        elif link.path == requests and link.query:
            assert requests_selected_by(link).count() == link.number, link
            checked += 1
    # inventory (24) + suspended systems card + per-department system links (2 × 2)
    # + expiring card, 3 windows, overdue notice + suspended requests card + per-department request links (2 × 2)
    assert checked >= 24 + 1 + 4 + 5 + 1 + 4


def test_expiring_approvals_by_window(admin_client, world):
    html = admin_client.get(DASHBOARD).content.decode()
    requests = reverse("governance:request-list")
    links = [link for link in links_of(table(html, "expiring-table")) if link.path == requests]
    by_days = {}
    for link in links:
        assert sorted(link.params["status"]) == ["active", "continuing_review_due"]
        cutoff = datetime.fromisoformat(link.params["expires_before"][0])
        assert cutoff.tzinfo is not None
        by_days[round((cutoff - world.now).total_seconds() / 86400)] = link.number
    # r1 (10 days) and r5 (2 days past expiry) within 30; r2 (45) within 60; r4 (80) within 90;
    # r3 is suspended and r8 expires in 120 days.
    assert by_days == {30: 2, 60: 3, 90: 4}
    ref = {key: request.reference for key, request in world.requests.items()}
    within_90 = requests_selected_by(links[-1])
    assert sorted(within_90.values_list("reference", flat=True)) == sorted([ref["r1"], ref["r5"], ref["r2"], ref["r4"]])

    overdue = next(link for link in links_of(html) if "past its expiry date" in link.text)
    assert overdue.number == 1
    assert list(requests_selected_by(overdue).values_list("reference", flat=True)) == [ref["r5"]]
    card = next(link for link in links_of(html) if link.id == "stat-expiring")
    assert card.number == 2
    assert card.params == links[0].params
    # The ISO datetime is URL-encoded (a raw "+" would arrive as a space).
    assert card.query.endswith("%2B00%3A00")


def test_headline_cards(admin_client, world):
    html = admin_client.get(DASHBOARD).content.decode()
    cards = {link.id: link for link in links_of(html) if link.id and link.id.startswith("stat-")}
    systems, requests = reverse("governance:system-list"), reverse("governance:request-list")
    assert (cards["stat-systems"].href, cards["stat-systems"].number) == (systems, 5)
    assert (cards["stat-suspended-systems"].href, cards["stat-suspended-systems"].number) == (
        f"{systems}?status=suspended",
        1,
    )
    assert (cards["stat-suspended-requests"].href, cards["stat-suspended-requests"].number) == (
        f"{requests}?status=suspended",
        1,
    )
    assert (cards["stat-overdue-reaudits"].href, cards["stat-overdue-reaudits"].number) == ("#overdue-reaudits", 2)
    assert (cards["stat-open-conditions"].href, cards["stat-open-conditions"].number) == ("#open-conditions", 5)
    assert (cards["stat-breached-conditions"].href, cards["stat-breached-conditions"].number) == (
        "#breached-conditions",
        1,
    )
    assert (cards["stat-open-incidents"].href, cards["stat-open-incidents"].number) == ("#open-incidents", 2)
    for anchor in ("overdue-reaudits", "open-conditions", "breached-conditions", "open-incidents"):
        assert f'id="{anchor}"' in html


def test_overdue_reaudits_follow_the_sweep_rule(admin_client, world):
    html = admin_client.get(DASHBOARD).content.decode()
    rows = re.findall(
        r"<tr>\s*<td><a href=\"([^\"]+)\">([^<]+)</a></td>(.*?)</tr>", table(html, "overdue-reaudits-table"), re.S
    )
    r1, r4 = world.requests["r1"], world.requests["r4"]
    # c1: last audit 45 days ago, every 30 days → 15 days overdue (the failed audit 2 days ago does not count).
    # c3: never audited, approved 30 days ago, every 20 days → 10 days overdue.
    # c2 was audited 5 days ago; c4's request is suspended; c5 is met.
    assert [(href, ref.strip()) for href, ref, _rest in rows] == [
        (reverse("governance:request-detail", args=[r1.pk]), r1.reference),
        (reverse("governance:request-detail", args=[r4.pk]), r4.reference),
    ]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", rest, re.S) for _href, _ref, rest in rows]
    assert cells[0][0] == world.systems["discharge"].name
    assert cells[0][1:3] == ["30", "15"]
    assert timezone.localtime(world.audits["d_latest"].finished_at).strftime("%Y-%m-%d %H:%M") in cells[0][3]
    assert cells[1][1:3] == ["20", "10"]
    assert "never" in cells[1][3]


def test_conditions_and_incidents_tables_link_to_their_requests(admin_client, world):
    html = admin_client.get(DASHBOARD).content.decode()
    detail = {key: reverse("governance:request-detail", args=[request.pk]) for key, request in world.requests.items()}

    open_links = [link.href for link in links_of(table(html, "open-conditions-table"))]
    assert sorted(open_links) == sorted([detail["r1"], detail["r2"], detail["r4"], detail["r3"], detail["r2"]])
    assert "Train ward staff before go-live" in html

    breached = table(html, "breached-conditions-table")
    assert [link.href for link in links_of(breached)] == [detail["r3"]]
    assert "overall lower bound 0.41 &lt; 0.50 in audit #12" in breached

    incidents = table(html, "open-incidents-table")
    assert [link.href for link in links_of(incidents)] == [detail["r3"], detail["r1"]]  # most severe first
    assert "Severe" in incidents and "Low" in incidents and "Critical" not in incidents
    severities = dict(re.findall(r'data-severity="(\w+)">(\d+)<', html))
    assert severities == {"critical": "0", "severe": "1", "moderate": "0", "low": "1"}


def test_scores_come_from_the_latest_scored_audit_summary(admin_client, world):
    html = admin_client.get(DASHBOARD).content.decode()
    scores = table(html, "latest-scores-table")

    def row(key):
        match = re.search(rf'<tr data-system="{world.systems[key].pk}">.*?</tr>', scores, re.S)
        assert match, key
        return match.group(0)

    ecg = row("ecg")
    assert "91.2%" in ecg and "85.0–95.0%" in ecg
    assert timezone.localtime(world.audits["e_latest"].finished_at).strftime("%Y-%m-%d %H:%M") in ecg
    discharge = row("discharge")
    assert "80.0%" in discharge and "72.0–86.0%" in discharge
    assert "No scored benchmark audit yet." in row("radiology")

    figures = re.findall(r'<figure class="chart[^"]*">(.*?)</figure>', html, re.S)
    assert len(figures) == 2  # only systems with scored audits get a trend
    assert all("<svg" in figure and "<figcaption>" in figure for figure in figures)
    discharge_figure = next(figure for figure in figures if world.systems["discharge"].name in figure)
    assert "2 scored audits" in discharge_figure  # the failed audit is not a point
    assert "70.0%" in discharge_figure and "80.0%" in discharge_figure


def test_department_breakdown(admin_client, world):
    html = admin_client.get(DASHBOARD).content.decode()
    departments = table(html, "departments-table")
    systems, requests = reverse("governance:system-list"), reverse("governance:request-list")
    open_states = [str(state) for state in DeploymentRequest.OPEN_STATES]
    expected = {
        world.cardiology.pk: {"systems": 2, "active": 3, "progress": 1, "suspended": 0, "incidents": 1},
        world.radiology.pk: {"systems": 3, "active": 2, "progress": 1, "suspended": 1, "incidents": 1},
    }
    for pk, numbers in expected.items():
        match = re.search(rf'<tr data-department="{pk}">.*?</tr>', departments, re.S)
        links = links_of(match.group(0))
        assert link_with(links, systems, owner_department=pk).number == numbers["systems"]
        assert (
            link_with(links, requests, department=pk, status=["active", "continuing_review_due"]).number
            == numbers["active"]
        )
        assert link_with(links, requests, department=pk, status=open_states).number == numbers["progress"]
        assert link_with(links, systems, owner_department=pk, status="suspended").number == numbers["suspended"]
        assert next(link for link in links if link.href == "#open-incidents").number == numbers["incidents"]


def test_event_log_status_and_verify_link(admin_client, world):
    response = admin_client.get(DASHBOARD)
    html = response.content.decode()
    assert re.search(rf'id="event-count">{Event.objects.count()}<', html)
    verify = next(link for link in links_of(html) if link.id == "verify-events")
    assert verify.href == "/api/v1/events/verify/"
    report = admin_client.get(verify.href)
    assert report.status_code == 200
    assert report.json()["ok"] is True


def test_page_meets_the_csp_and_links_the_csv(admin_client, world):
    html = admin_client.get(DASHBOARD).content.decode()
    assert "<script>" not in html and "style=" not in html and " onclick=" not in html
    assert any(link.href == CSV_URL for link in links_of(html))
    assert world.systems["ecg"].name in html  # Chinese names render
    assert "=HYPERLINK(&quot;http://x&quot;)" in html  # escaped


# --- CSV ------------------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_has_one_row_per_system(admin_client, world):
    response = admin_client.get(CSV_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="medgov-ai-systems-\d{8}-\d{4}\.csv"', response["Content-Disposition"])
    rows = read_csv(response)
    assert (
        rows[0]
        == CSV_HEADER
        == [
            "name",
            "department",
            "vendor",
            "model",
            "hosting",
            "risk_tier",
            "status",
            "latest_audit_id",
            "latest_overall_accuracy",
            "ci_low",
            "ci_high",
            "audit_finished_at",
            "approval_reference",
            "approval_status",
            "expires_at",
            "open_conditions",
            "open_incidents",
        ]
    )
    by_name = {row[0]: dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]}
    assert len(by_name) == AISystem.objects.count() == 5

    ecg = by_name["心电图解读助手"]
    r8, audit = world.requests["r8"], world.audits["e_latest"]
    assert ecg["department"] == "Cardiology"
    assert (ecg["risk_tier"], ecg["status"], ecg["model"]) == ("high", "deployed", "acme-med-7b 1.0")
    assert (ecg["latest_audit_id"], ecg["latest_overall_accuracy"], ecg["ci_low"], ecg["ci_high"]) == (
        str(audit.pk),
        "0.9123",
        "0.85",
        "0.95",
    )
    assert datetime.fromisoformat(ecg["audit_finished_at"]) == audit.finished_at
    # Two approved requests: the most recently approved one is current.
    assert (ecg["approval_reference"], ecg["approval_status"]) == (r8.reference, "active")
    assert datetime.fromisoformat(ecg["expires_at"]) == r8.expires_at
    assert (ecg["open_conditions"], ecg["open_incidents"]) == ("2", "0")

    discharge = by_name[world.systems["discharge"].name]
    assert discharge["approval_reference"] == world.requests["r1"].reference  # r7 (submitted) was never approved
    assert discharge["latest_audit_id"] == str(world.audits["d_latest"].pk)
    assert (discharge["open_conditions"], discharge["open_incidents"]) == ("1", "1")

    suspended = by_name["Radiology report drafter"]
    assert (suspended["approval_status"], suspended["latest_audit_id"], suspended["latest_overall_accuracy"]) == (
        "suspended",
        "",
        "",
    )
    assert (suspended["open_conditions"], suspended["open_incidents"]) == ("1", "1")

    # A name that a spreadsheet would run as a formula is neutralised.
    formula = by_name['\'=HYPERLINK("http://x")']
    assert (formula["approval_reference"], formula["approval_status"], formula["expires_at"]) == ("", "", "")


def test_csv_uses_the_language_of_the_request(admin_client, world):
    rows = read_csv(admin_client.get(CSV_URL, HTTP_ACCEPT_LANGUAGE="zh-hans"))
    departments = {row[0]: row[1] for row in rows[1:]}
    assert departments["心电图解读助手"] == "心内科"
    assert departments["Triage chatbot"] == "放射科"


# --- Query budget ---------------------------------------------------------------------------------


def grow(world, audits_per_endpoint: int, tag: str) -> None:
    """More of everything: systems with endpoints, approvals, conditions, incidents and audits."""
    for index in range(3):
        system = AISystemFactory(name=f"Grown {tag} {index}", owner_department=world.radiology, status="deployed")
        endpoint = make_endpoint(system, f"endpoint-{tag}-{index}")
        request = make_request(
            world, system, "active", expires_in=20 + index, approved_days_ago=50, endpoints=[endpoint]
        )
        Condition.objects.create(
            request=request, kind=Condition.Kind.REAUDIT_INTERVAL, days=7, text="Weekly", owner=world.hospital.admin
        )
        IncidentReport.objects.create(
            request=request,
            reporter=world.hospital.requester,
            severity="moderate",
            description="x",
            occurred_at=world.now,
        )
        for day in range(audits_per_endpoint):
            make_audit(world, endpoint, days_ago=day * 3 + 1, accuracy=0.6 + day / 200)


def test_query_count_does_not_grow_with_the_data(admin_client, world, django_assert_max_num_queries):
    grow(world, 5, "small")
    admin_client.get(DASHBOARD)  # warm caches (content types, permissions: new roles invalidate them)
    with CaptureQueriesContext(connection) as small, django_assert_max_num_queries(25):
        assert admin_client.get(DASHBOARD).status_code == 200
    small_count = len(small.captured_queries)  # counted now: the next request resets the query log
    grow(world, 40, "large")
    assert Audit.objects.count() > 100
    admin_client.get(DASHBOARD)
    with CaptureQueriesContext(connection) as large, django_assert_max_num_queries(25):
        response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    assert len(large.captured_queries) == small_count
    html = response.content.decode()
    assert len(re.findall(r'<figure class="chart', html)) == 2 + 6

    with CaptureQueriesContext(connection) as csv_small:
        read_csv(admin_client.get(CSV_URL))
    csv_small_count = len(csv_small.captured_queries)
    grow(world, 10, "more")
    admin_client.get(CSV_URL)
    with CaptureQueriesContext(connection) as csv_large, django_assert_max_num_queries(12):
        rows = read_csv(admin_client.get(CSV_URL))
    assert len(csv_large.captured_queries) == csv_small_count
    assert len(rows) == 1 + 5 + 9


def test_following_an_expiry_link_lists_exactly_the_counted_requests(admin_client, world):
    html = admin_client.get(DASHBOARD).content.decode()
    within_90 = links_of(table(html, "expiring-table"))[-1]
    listed = admin_client.get(within_90.href)
    assert listed.status_code == 200
    page = listed.content.decode()
    ref = {key: request.reference for key, request in world.requests.items()}
    for key in ("r1", "r2", "r4", "r5"):
        assert ref[key] in page
    for key in ("r3", "r6", "r7", "r8"):
        assert ref[key] not in page


def test_it_renders_in_chinese(admin_client, world):
    response = admin_client.get(DASHBOARD, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert "放射科" in response.content.decode()  # department names follow the language
