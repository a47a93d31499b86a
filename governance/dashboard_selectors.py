"""Reads for the compliance dashboard: institution-wide numbers for compliance administrators.

Every number is an aggregate computed by the database, so the page costs the same bounded number of
queries however many systems, requests and audits exist. Audit scores come from ``Audit.summary``
(the stored scores), never from item results.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.http import Http404
from django.utils import timezone

from audits.models import Audit
from governance.models import (
    AISystem,
    Condition,
    Department,
    DeploymentRequest,
    Event,
    IncidentReport,
    RiskTier,
    Role,
)
from governance.roles import has_role

EXPIRY_WINDOWS = (30, 60, 90)
TREND_DAYS = 365
# Tables on the page show the most urgent rows; the headline counts are always complete.
TABLE_LIMIT = 100

S = DeploymentRequest.Status
APPROVED_STATES = [str(status) for status in DeploymentRequest.APPROVED_STATES]
OPEN_STATES = [str(status) for status in DeploymentRequest.OPEN_STATES]
SEVERITY_ORDER = [
    IncidentReport.Severity.CRITICAL,
    IncidentReport.Severity.SEVERE,
    IncidentReport.Severity.MODERATE,
    IncidentReport.Severity.LOW,
]


def dashboard_allowed(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or has_role(user, Role.COMPLIANCE_ADMIN)))


def _require_access(user) -> None:
    # Outsiders get 404 rather than 403: the page's existence is not theirs to know.
    if not dashboard_allowed(user):
        raise Http404("No such page.")


# --- Shapes handed to the template ----------------------------------------------------------------


@dataclass(frozen=True)
class InventoryCell:
    status: str
    risk_tier: str
    tier_label: str
    count: int


@dataclass(frozen=True)
class InventoryRow:
    status: str
    label: str
    cells: list[InventoryCell]
    total: int


@dataclass(frozen=True)
class Inventory:
    rows: list[InventoryRow]
    tiers: list[tuple[str, str]]  # (value, label)
    tier_totals: list[InventoryCell]  # status is ""
    total: int

    def count(self, status: str) -> int:
        return next((row.total for row in self.rows if row.status == status), 0)


@dataclass(frozen=True)
class ExpiryBucket:
    days: int  # 0: already past the expiry date, not yet swept
    cutoff: datetime
    count: int

    @property
    def cutoff_iso(self) -> str:
        return self.cutoff.isoformat()


@dataclass(frozen=True)
class OverdueReaudit:
    condition: Condition
    last_audit_at: datetime | None
    due_at: datetime | None
    days_overdue: int | None  # None: never audited and never approved, so no start date

    @property
    def request(self) -> DeploymentRequest:
        return self.condition.request


@dataclass(frozen=True)
class SystemScore:
    system_id: int
    system_name: str
    audit_id: int | None = None
    finished_at: datetime | None = None
    accuracy: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    suite: str = ""
    version: str = ""

    @staticmethod
    def _pct(value: float | None) -> float | None:
        return None if value is None else 100 * value

    @property
    def accuracy_pct(self) -> float | None:
        return self._pct(self.accuracy)

    @property
    def ci_low_pct(self) -> float | None:
        return self._pct(self.ci_low)

    @property
    def ci_high_pct(self) -> float | None:
        return self._pct(self.ci_high)


@dataclass(frozen=True)
class SystemTrend:
    system_id: int
    system_name: str
    points: list[tuple[datetime, float]]


@dataclass(frozen=True)
class DepartmentRow:
    department: Department
    systems: int
    active_approvals: int
    in_progress: int
    suspended_systems: int
    open_incidents: int


@dataclass(frozen=True)
class EventLogStatus:
    count: int
    latest_at: datetime | None


@dataclass
class DashboardOverview:
    now: datetime
    inventory: Inventory
    request_status_counts: dict[str, int]
    expiring: list[ExpiryBucket]
    overdue_expiry: ExpiryBucket
    overdue_reaudits: list[OverdueReaudit]
    condition_counts: dict[str, int]
    open_conditions: list[Condition]
    breached_conditions: list[Condition]
    incident_counts: list[tuple[str, str, int]]  # (severity, label, count), most severe first
    open_incidents: list[IncidentReport]
    latest_scores: list[SystemScore]
    trends: list[SystemTrend]
    departments: list[DepartmentRow]
    department_totals: dict[str, int]
    event_log: EventLogStatus
    table_limit: int = TABLE_LIMIT
    expiry_windows: tuple[int, ...] = EXPIRY_WINDOWS
    trend_days: int = TREND_DAYS
    open_states: list[str] = field(default_factory=lambda: list(OPEN_STATES))

    @property
    def suspended_systems(self) -> int:
        return self.inventory.count(AISystem.Status.SUSPENDED)

    @property
    def suspended_requests(self) -> int:
        return self.request_status_counts.get(S.SUSPENDED, 0)

    @property
    def open_incident_total(self) -> int:
        return sum(count for _severity, _label, count in self.incident_counts)


# --- Queries --------------------------------------------------------------------------------------


def _inventory(system_counts: list[dict]) -> Inventory:
    by_cell: dict[tuple[str, str], int] = defaultdict(int)
    for row in system_counts:
        by_cell[(row["status"], row["risk_tier"])] += row["n"]
    tiers = list(RiskTier.choices)
    rows = []
    for status, label in AISystem.Status.choices:
        cells = [InventoryCell(status, tier, tier_label, by_cell[(status, tier)]) for tier, tier_label in tiers]
        rows.append(InventoryRow(status, label, cells, sum(cell.count for cell in cells)))
    tier_totals = [
        InventoryCell("", tier, label, sum(by_cell[(status, tier)] for status in AISystem.Status.values))
        for tier, label in tiers
    ]
    return Inventory(rows, tiers, tier_totals, sum(cell.count for cell in tier_totals))


def _expiry(now: datetime) -> tuple[list[ExpiryBucket], ExpiryBucket]:
    # Whole seconds, so the cutoff in the list link selects exactly the requests counted here.
    now = now.replace(microsecond=0)
    cutoffs = {days: now + timedelta(days=days) for days in (0, *EXPIRY_WINDOWS)}
    counts = DeploymentRequest.objects.filter(status__in=APPROVED_STATES).aggregate(
        **{f"d{days}": Count("pk", filter=Q(expires_at__lte=cutoff)) for days, cutoff in cutoffs.items()}
    )
    buckets = [ExpiryBucket(days, cutoffs[days], counts[f"d{days}"]) for days in EXPIRY_WINDOWS]
    return buckets, ExpiryBucket(0, cutoffs[0], counts["d0"])


def overdue_reaudit_conditions(*, now: datetime) -> list[OverdueReaudit]:
    """Open re-audit conditions of approved requests whose last scored benchmark audit is too old.

    Same rule as ``services._check_reaudit_intervals`` (which breaches them nightly): the interval runs
    from the latest scored benchmark audit of the request's endpoints, else from the approval.
    """
    latest_audit = (
        Audit.objects.filter(
            endpoint__deployment_requests=OuterRef("request_id"),
            kind=Audit.Kind.BENCHMARK,
            status__in=Audit.FINISHED_WITH_SCORES,
            finished_at__isnull=False,
        )
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )
    conditions = (
        Condition.objects.filter(
            kind=Condition.Kind.REAUDIT_INTERVAL,
            status=Condition.Status.OPEN,
            request__status__in=APPROVED_STATES,
        )
        .annotate(last_audit_at=Subquery(latest_audit, output_field=DateTimeField()))
        .annotate(since=Coalesce("last_audit_at", "request__approved_at", "request__determined_at"))
        .select_related("request__ai_system")
        .order_by("pk")
    )
    overdue = []
    for condition in conditions:
        # Date arithmetic in Python: interval maths in SQL differs between PostgreSQL and the demo's SQLite.
        due_at = None if condition.since is None else condition.since + timedelta(days=condition.days)
        if due_at is None or due_at < now:
            overdue.append(
                OverdueReaudit(
                    condition, condition.last_audit_at, due_at, None if due_at is None else (now - due_at).days
                )
            )
    overdue.sort(key=lambda row: (row.due_at is not None, row.due_at or now, row.condition.pk))
    return overdue


def _score_fields() -> dict:
    def number(key: str, output=None):
        return Cast(KT(f"summary__overall__{key}"), output or FloatField())

    return {
        "accuracy": number("accuracy"),
        "ci_low": number("ci_low"),
        "ci_high": number("ci_high"),
        "n": number("n", IntegerField()),
    }


def _scored_benchmark_audits():
    return Audit.objects.filter(
        kind=Audit.Kind.BENCHMARK,
        status__in=Audit.FINISHED_WITH_SCORES,
        finished_at__isnull=False,
        endpoint__ai_system__isnull=False,
    ).annotate(system_id=F("endpoint__ai_system_id"))


def latest_scores_by_system() -> dict[int, dict]:
    """The latest scored benchmark audit of each AI system's endpoints (one query, first row per system;
    portable: the embedded demo runs on SQLite, which has no DISTINCT ON)."""
    rows = (
        _scored_benchmark_audits()
        .order_by("system_id", "-finished_at", "-pk")
        .values(
            "pk",
            "system_id",
            "finished_at",
            suite=F("benchmark_version__suite__name"),
            version=F("benchmark_version__label"),
            **_score_fields(),
        )
    )
    latest: dict[int, dict] = {}
    for row in rows:
        latest.setdefault(row["system_id"], row)
    return latest


def _trends(now: datetime, names: dict[int, str]) -> list[SystemTrend]:
    accuracy = Cast(KT("summary__overall__accuracy"), FloatField())
    points: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    rows = (
        _scored_benchmark_audits()
        .filter(finished_at__gte=now - timedelta(days=TREND_DAYS))
        .annotate(accuracy=accuracy)
        .filter(accuracy__isnull=False)
        .order_by("system_id", "finished_at")
        .values_list("system_id", "finished_at", "accuracy")
    )
    for system_id, finished_at, value in rows:
        points[system_id].append((finished_at, value))
    return [
        SystemTrend(system_id, names.get(system_id, str(system_id)), series)
        for system_id, series in sorted(points.items(), key=lambda item: names.get(item[0], "").casefold())
    ]


def _departments(
    system_counts: list[dict], request_counts: list[dict], incident_counts: list[dict]
) -> tuple[list[DepartmentRow], dict[str, int]]:
    systems, suspended = defaultdict(int), defaultdict(int)
    for row in system_counts:
        systems[row["owner_department"]] += row["n"]
        if row["status"] == AISystem.Status.SUSPENDED:
            suspended[row["owner_department"]] += row["n"]
    approved, in_progress = defaultdict(int), defaultdict(int)
    for row in request_counts:
        if row["status"] in APPROVED_STATES:
            approved[row["department"]] += row["n"]
        elif row["status"] in OPEN_STATES:
            in_progress[row["department"]] += row["n"]
    incidents = defaultdict(int)
    for row in incident_counts:
        incidents[row["department"]] += row["n"]
    rows = [
        DepartmentRow(
            department,
            systems[department.pk],
            approved[department.pk],
            in_progress[department.pk],
            suspended[department.pk],
            incidents[department.pk],
        )
        for department in Department.objects.order_by("code")
    ]
    totals = {
        "systems": sum(systems.values()),
        "active_approvals": sum(approved.values()),
        "in_progress": sum(in_progress.values()),
        "suspended_systems": sum(suspended.values()),
        "open_incidents": sum(incidents.values()),
    }
    return rows, totals


def dashboard_overview(*, user, now: datetime | None = None) -> DashboardOverview:
    """Everything on the compliance dashboard, for a compliance administrator or superuser (else 404)."""
    _require_access(user)
    now = now or timezone.now()

    system_counts = list(
        AISystem.objects.order_by().values("status", "risk_tier", "owner_department").annotate(n=Count("pk"))
    )
    request_counts = list(
        DeploymentRequest.objects.order_by()
        .values("status", department=F("ai_system__owner_department"))
        .annotate(n=Count("pk"))
    )
    request_status_counts: dict[str, int] = defaultdict(int)
    for row in request_counts:
        request_status_counts[row["status"]] += row["n"]

    incident_rows = list(
        IncidentReport.objects.filter(status=IncidentReport.Status.OPEN)
        .order_by()
        .values("severity", department=F("request__ai_system__owner_department"))
        .annotate(n=Count("pk"))
    )
    by_severity: dict[str, int] = defaultdict(int)
    for row in incident_rows:
        by_severity[row["severity"]] += row["n"]
    severity_rank = Case(
        *[When(severity=severity, then=Value(rank)) for rank, severity in enumerate(SEVERITY_ORDER)],
        default=Value(len(SEVERITY_ORDER)),
    )
    open_incidents = list(
        IncidentReport.objects.filter(status=IncidentReport.Status.OPEN)
        .select_related("request__ai_system", "reporter")
        .order_by(severity_rank, "-occurred_at", "-pk")[:TABLE_LIMIT]
    )

    condition_counts = Condition.objects.aggregate(
        open=Count("pk", filter=Q(status=Condition.Status.OPEN)),
        breached=Count("pk", filter=Q(status=Condition.Status.BREACHED)),
    )
    conditions = Condition.objects.select_related("request__ai_system", "owner")
    open_conditions = list(
        conditions.filter(status=Condition.Status.OPEN).order_by(F("due_date").asc(nulls_last=True), "created_at")[
            :TABLE_LIMIT
        ]
    )
    breached_conditions = list(
        conditions.filter(status=Condition.Status.BREACHED).order_by(F("breached_at").desc(nulls_last=True), "-pk")[
            :TABLE_LIMIT
        ]
    )

    systems = dict(AISystem.objects.exclude(status=AISystem.Status.RETIRED).values_list("pk", "name"))
    latest = latest_scores_by_system()
    latest_scores = [
        _system_score(system_id, name, latest.get(system_id))
        for system_id, name in sorted(systems.items(), key=lambda item: item[1].casefold())
    ]

    departments, department_totals = _departments(system_counts, request_counts, incident_rows)
    expiring, overdue_expiry = _expiry(now)
    events = Event.objects.aggregate(count=Count("pk"), latest_at=Max("created_at"))

    return DashboardOverview(
        now=now,
        inventory=_inventory(system_counts),
        request_status_counts=dict(request_status_counts),
        expiring=expiring,
        overdue_expiry=overdue_expiry,
        overdue_reaudits=overdue_reaudit_conditions(now=now),
        condition_counts=condition_counts,
        open_conditions=open_conditions,
        breached_conditions=breached_conditions,
        incident_counts=[
            (severity, IncidentReport.Severity(severity).label, by_severity[severity]) for severity in SEVERITY_ORDER
        ],
        open_incidents=open_incidents,
        latest_scores=latest_scores,
        trends=_trends(now, systems),
        departments=departments,
        department_totals=department_totals,
        event_log=EventLogStatus(events["count"], events["latest_at"]),
    )


def _system_score(system_id: int, name: str, row: dict | None) -> SystemScore:
    if row is None:
        return SystemScore(system_id, name)
    return SystemScore(
        system_id,
        name,
        audit_id=row["pk"],
        finished_at=row["finished_at"],
        accuracy=row["accuracy"],
        ci_low=row["ci_low"],
        ci_high=row["ci_high"],
        n=row["n"],
        suite=row["suite"] or "",
        version=row["version"] or "",
    )


# --- CSV export -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemExportRow:
    system: AISystem
    score: SystemScore
    approval: DeploymentRequest | None
    open_conditions: int
    open_incidents: int


def dashboard_system_rows(*, user) -> list[SystemExportRow]:
    """One row per AI system with its latest scores and current approval (for the CSV export)."""
    _require_access(user)
    systems = list(AISystem.objects.select_related("owner_department").order_by("name"))
    latest = latest_scores_by_system()
    # The approval that matters now: an approved one first, then a suspended one, then the newest ever approved.
    rank = Case(
        When(status__in=APPROVED_STATES, then=Value(0)),
        When(status=S.SUSPENDED, then=Value(1)),
        default=Value(2),
    )
    approvals: dict[int, DeploymentRequest] = {}
    for request in (
        DeploymentRequest.objects.filter(approved_at__isnull=False)
        .annotate(rank=rank)
        .order_by("ai_system_id", "rank", "-approved_at", "-pk")
    ):
        approvals.setdefault(request.ai_system_id, request)
    open_conditions = dict(
        Condition.objects.filter(status=Condition.Status.OPEN)
        .order_by()
        .values("request__ai_system")
        .annotate(n=Count("pk"))
        .values_list("request__ai_system", "n")
    )
    open_incidents = dict(
        IncidentReport.objects.filter(status=IncidentReport.Status.OPEN)
        .order_by()
        .values("request__ai_system")
        .annotate(n=Count("pk"))
        .values_list("request__ai_system", "n")
    )
    return [
        SystemExportRow(
            system,
            _system_score(system.pk, system.name, latest.get(system.pk)),
            approvals.get(system.pk),
            open_conditions.get(system.pk, 0),
            open_incidents.get(system.pk, 0),
        )
        for system in systems
    ]
