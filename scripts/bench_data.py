#!/usr/bin/env python
"""Seed a realistic, large hospital for the page benchmark and the load test (``bench_pages.py``, ``load_test.py``).

``seed(n_audits=50, items=12000)`` builds, through the services, the fixed cast of
``governance.tests.conftest.build_hospital`` plus a few more people, a benchmark version of ``items`` generated
items (``benchmark.tests.factories.item_record``) in the suite the approval policies require, four AI systems
with one endpoint each, seven deployment requests in several states (approved with conditions, approved,
expedited review with a reviewer, full-board review on a meeting's agenda, waiting for the audit team, a
clarification, a draft) and ``n_audits`` completed benchmark audits of every item: ``n_audits × items``
``ItemResult`` rows (correct / wrong / refused / unparseable / empty / error, latencies, tokens, ~200-character
raw responses) written with PostgreSQL ``COPY`` (``bulk_create`` elsewhere), then ``audits.services.audit_score``
for each so ``Audit.summary`` holds real scores and the paired comparison with the previous audit of the same
system. ``finished_at`` spreads over the last year, so the dashboard has trends.

Idempotent and resumable: every phase first looks for what it would create (by username, title, label, audit
slot), so a second run reuses the data and an interrupted run continues where it stopped.

Stand-alone: ``.venv/bin/python scripts/bench_data.py [--audits 50] [--items 12000]`` (DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/medgov_bench; the database is created when missing and migrated).
"""

import argparse
import hashlib
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple"  # governance.tests.factories.UserFactory's password
SUITE = "MedEthicsSafety"  # the suite build_hospital's approval policies require
UNREACHABLE_URL = "http://127.0.0.1:9/v1"  # seeded audits never call a model
LIVE_ENDPOINT = "bench-live-sim"

BENCH_ENV_DEFAULTS = {
    "SECRET_KEY": "medgov-bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/medgov_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/10",
    "LANGUAGE_CODE": "en",
    "MEDGOV_HTTPS": "0",
    "MEDGOV_VAR_DIR": str(ROOT / "var" / "bench"),
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}

# (username, roles) beyond build_hospital's cast; auditors join its audit team.
EXTRA_PEOPLE = [
    ("req01", ["requester"]),
    ("req02", ["requester"]),
    ("aud02", ["auditor"]),
    ("aud03", ["auditor"]),
    ("comp02", ["compliance_admin"]),
]
ACCOUNTS = {
    "requester": ["alice", "olga", "req01", "req02"],
    "auditor": ["aud", "aud02", "aud03"],
    "irb": ["chair", "sec", "mem", "lay"],
    "compliance": ["admin", "comp02"],
}

# endpoint name, model, share of the audits, accuracy at the start and at the end of the year
ENDPOINTS = [
    ("bench-discharge", "hospital-qwen-32b-ft", 0.4, 0.62, 0.80),
    ("bench-triage", "vendor-chat-7b", 0.2, 0.72, 0.66),
    ("bench-formulary", "hospital-qwen-32b-ft", 0.2, 0.71, 0.73),
    ("bench-radiology", "rad-summary-13b", 0.2, 0.58, 0.76),
]

INTAKE = {
    "intended_users": "Ward physicians and residents",
    "patient_population": "Adult inpatients",
    "oversight_plan": "Every draft is edited and signed by the treating physician; nothing is sent automatically.",
    "data_flows": "Record extract → on-premises model → draft in the EHR; nothing leaves the hospital.",
    "fallback_plan": "Clinicians do the work themselves; the feature can be switched off per ward.",
}
# label: (title, requester, system key, endpoint index, intake flags)
REQUESTS = {
    "approved_with_conditions": (
        "[bench] Discharge summaries on cardiology wards",
        "alice",
        "discharge",
        0,
        {"processes_identifiable_data": True},
    ),
    "full_board": (
        "[bench] Pre-visit triage chatbot for the emergency department",
        "olga",
        "triage",
        1,
        {"patient_facing": True, "influences_clinical_decisions": True, "processes_identifiable_data": True},
    ),
    "expedited": ("[bench] Formulary questions from ward staff", "alice", "formulary", 2, {}),
    "approved": (
        "[bench] Radiology report summaries for referring physicians",
        "req01",
        "radiology",
        3,
        {"processes_identifiable_data": True},
    ),
    "auditing": ("[bench] Discharge assistant on the surgical wards", "alice", "discharge", 0, {}),
    "clarification": (
        "[bench] Triage chatbot: paediatric extension",
        "olga",
        "triage",
        1,
        {"patient_facing": True, "influences_clinical_decisions": True},
    ),
    "draft": ("[bench] Radiology summaries in outpatient clinics", "req02", "radiology", 3, {}),
}
# the request whose endpoint's audits are its evidence (endpoint index → request label)
AUDITED_REQUEST = {0: "approved_with_conditions", 1: "full_board", 2: "expedited", 3: "approved"}


# --- Environment and database ---------------------------------------------------------------------


def bench_environment() -> None:
    """Fill in the settings a benchmark needs (the Makefile sets most of them) and make the repo importable."""
    for name, value in BENCH_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    Path(os.environ["MEDGOV_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def ensure_database() -> str:
    """Create the PostgreSQL database named by DATABASE_URL when it is missing; returns its name."""
    import psycopg
    from psycopg import sql

    url = urlsplit(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    if not url.scheme.startswith("postgres"):
        return name
    params = {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "password": url.password,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**{key: value for key, value in params.items() if value is not None}) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def setup_django() -> None:
    """Environment, database, ``django.setup()`` and migrations (a no-op when up to date), in that order."""
    bench_environment()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False, skip_checks=True)


# --- What a seeded database holds -----------------------------------------------------------------


@dataclass
class BenchData:
    version_id: int
    items: int
    requests: dict[str, int]  # label → pk
    endpoints: dict[str, int]  # name → pk
    audits: dict[str, list[int]]  # endpoint name → audit pks, oldest first
    tokens: dict[str, str]  # username → API token
    accounts: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in ACCOUNTS.items()})
    password: str = PASSWORD

    @property
    def all_audits(self) -> list[int]:
        return sorted(pk for pks in self.audits.values() for pk in pks)

    @property
    def big_audit_id(self) -> int:
        """The audit stored last: full size, with a comparison to the previous one, and its results have the
        highest ids in the table (the worst case for pages that list results in id order)."""
        return max(self.all_audits)


def _say(message: str) -> None:
    print(f"[seed] {message}", flush=True)


# --- Phase 1: people, committee, team, guideline, policies (build_hospital) -----------------------


def _people():
    from django.contrib.auth import get_user_model

    from governance import services
    from governance.models import AuditTeam, AuditTeamMembership
    from governance.tests.factories import UserFactory

    User = get_user_model()
    if not User.objects.filter(username="admin").exists():
        from django.db import transaction

        from governance.tests.conftest import build_hospital

        with transaction.atomic():
            build_hospital()
        _say("hospital built (governance.tests.conftest.build_hospital)")
    team = AuditTeam.objects.get(name="LLM audit team")
    for username, roles in EXTRA_PEOPLE:
        if User.objects.filter(username=username).exists():
            continue
        user = UserFactory(username=username, roles=[] if roles == ["auditor"] else roles)
        if roles == ["auditor"]:  # joining the team also gives the auditor role
            services.audit_team_add_member(team=team, user=user, role=AuditTeamMembership.TeamRole.CLINICIAN)
    return {user.username: user for user in User.objects.all()}


def _tokens(people) -> dict[str, str]:
    from rest_framework.authtoken.models import Token

    wanted = {name for names in ACCOUNTS.values() for name in names}
    return {name: Token.objects.get_or_create(user=people[name])[0].key for name in sorted(wanted)}


# --- Phase 2: the benchmark version ---------------------------------------------------------------


def _version(items: int, people):
    from benchmark import services as benchmark_services
    from benchmark.models import BenchmarkVersion
    from benchmark.tests.factories import item_record, jsonl_lines

    label = f"2026.2-bench-{items}"
    version = BenchmarkVersion.objects.filter(suite__name=SUITE, label=label).first()
    if version is not None:
        return version
    started = time.perf_counter()
    records = [item_record(index, options=5 if index % 3 == 0 else 4) for index in range(items)]
    version = benchmark_services.benchmark_version_import(
        suite_name=SUITE, label=label, lines=jsonl_lines(records), filename=f"bench-{items}.jsonl", by=people["aud"]
    )
    _say(f"benchmark version {label}: {items} items imported in {time.perf_counter() - started:.1f} s")
    return version


# --- Phase 3: systems, endpoints, requests up to screening ----------------------------------------


def _systems_and_endpoints(people) -> tuple[dict, list]:
    from audits import services as audit_services
    from audits.models import ModelEndpoint
    from governance import services
    from governance.models import AISystem, AuditTeam, Department

    team = AuditTeam.objects.get(name="LLM audit team")
    department = Department.objects.get(code="cardiology")
    specs = {
        "discharge": ("alice", None),  # build_hospital's system
        "triage": (
            "olga",
            dict(
                name="Patient triage chatbot",
                vendor="Vendor Health Cloud",
                model_name="vendor-chat-7b",
                model_version="4.1",
                hosting=AISystem.Hosting.VENDOR_CLOUD,
                intended_use="Answers patients' questions before an emergency visit and suggests a triage level.",
                processes_identifiable_data=True,
                patient_facing=True,
                influences_clinical_decisions=True,
            ),
        ),
        "formulary": (
            "alice",
            dict(
                name="Formulary Q&A assistant",
                vendor="In-house",
                model_name="hospital-qwen-32b-ft",
                model_version="2026.03",
                hosting=AISystem.Hosting.ON_PREMISES,
                intended_use="Answers staff questions about the hospital formulary.",
            ),
        ),
        "radiology": (
            "req01",
            dict(
                name="Radiology report summariser",
                vendor="Imaging AI Ltd",
                model_name="rad-summary-13b",
                model_version="2.2",
                hosting=AISystem.Hosting.ON_PREMISES,
                intended_use="Summarises radiology reports for referring physicians.",
                processes_identifiable_data=True,
            ),
        ),
    }
    systems = {}
    for key, (owner, fields) in specs.items():
        if fields is None:
            systems[key] = AISystem.objects.get(name="Discharge summary assistant")
            continue
        systems[key] = AISystem.objects.filter(name=fields["name"]).first() or services.ai_system_register(
            by=people[owner], owner_department=department, audit_team=team, **fields
        )
    keys = list(specs)
    endpoints = []
    for index, (name, model, _share, _start, _end) in enumerate(ENDPOINTS):
        endpoint = ModelEndpoint.objects.filter(name=name).first()
        if endpoint is None:
            endpoint, _created = audit_services.endpoint_register(
                name=name,
                base_url=UNREACHABLE_URL,
                model=model,
                max_concurrency=16,
                timeout_s=30,
                team=team,
                ai_system=systems[keys[index]],
                by=people["aud"],
            )
        endpoints.append(endpoint)
    return systems, endpoints


def _requests(people, systems, endpoints) -> dict:
    from django.db import transaction

    from governance import services
    from governance.models import AuditTeam, DeploymentRequest

    S = DeploymentRequest.Status
    found = {}
    secretary, chair = people["sec"], people["chair"]
    for label, (title, requester, system, endpoint_index, flags) in REQUESTS.items():
        existing = DeploymentRequest.objects.filter(title=title).first()
        if existing is not None:
            found[label] = existing
            continue
        with transaction.atomic():
            request = services.request_create(
                by=people[requester],
                ai_system=systems[system],
                endpoints=[endpoints[endpoint_index]],
                title=title,
                intended_use=f"{systems[system].intended_use} ({title.removeprefix('[bench] ')})",
                **INTAKE,
                **flags,
            )
            if label != "draft":
                clause_ids = list(services.current_guideline().clauses.values_list("id", flat=True))
                services.request_attest(request=request, by=request.requester, clause_ids=clause_ids)
                services.request_submit(request=request, by=request.requester)
                services.request_screen(request=request, by=secretary)
            if label == "clarification":
                services.request_clarify(
                    request=request,
                    by=chair,
                    question="How will the bot recognise a febrile infant under 3 months and escalate?",
                )
            elif label == "auditing":
                team = AuditTeam.objects.get(name="LLM audit team")
                services.request_send_to_audit(request=request, by=secretary, team=team)
            request.refresh_from_db()
        found[label] = request
    assert found["auditing"].status == S.AUDITING, found["auditing"].status
    return found


# --- Phase 4: completed audits with item results ---------------------------------------------------

EN_ANSWERS = [
    "Answer: {letters}. The patient's autonomy and safety come first: explain the plan, confirm understanding and "
    "document the conversation before anything else is done.",
    "The most appropriate response is {letters}, because it follows the escalation protocol and keeps the "
    "responsible clinician informed while protecting confidentiality.",
    "After weighing consent, confidentiality and the risk of harm, I choose option {letters}. The other options "
    "either skip the patient's consent or delay necessary care.",
]
ZH_ANSWERS = [
    "答案：{letters}。首先应尊重患者的知情同意权并保障安全，向患者充分解释治疗计划，确认其理解后再记录在病历中，"
    "同时及时告知上级医师。其他选项或忽视了患者的意愿，或可能延误必要的治疗，不符合医学伦理要求。",
    "正确答案是{letters}。该做法遵循医院的上报流程，既保护了患者隐私，又确保责任医师知情；"
    "其余选项存在泄露信息或延误救治的风险，因此不选。",
]
REFUSALS = [
    "I'm sorry, but I can't provide a recommendation on this clinical situation. Please consult the responsible "
    "physician or the hospital's ethics service, who can assess the patient directly and weigh all the facts.",
    "抱歉，我无法就该临床情境给出具体建议。请咨询负责的医师或医院伦理委员会，他们可以直接评估患者情况并综合考虑所有因素。",
]
UNPARSEABLE = [
    "This depends on many factors, including the patient's wishes, the local policy, the availability of senior "
    "staff and the urgency of the situation. Each of the listed actions could be reasonable in some settings.",
    "这个问题需要综合考虑患者意愿、医院制度、上级医师是否在场以及病情的紧急程度等多方面因素，"
    "不同情况下上述做法都可能是合理的，难以一概而论。",
]
ERRORS = [
    "timeout: no answer within 30 s",
    "http_500: upstream returned 500 Internal Server Error",
    "connection: connection reset by peer",
]


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _audit_slots(n_audits: int) -> list[int]:
    """How many audits each endpoint gets (largest remainder on the shares, at least one each when possible)."""
    shares = [spec[2] for spec in ENDPOINTS]
    counts = [int(n_audits * share) for share in shares]
    for index in sorted(range(len(shares)), key=lambda i: n_audits * shares[i] - counts[i], reverse=True):
        if sum(counts) >= n_audits:
            break
        counts[index] += 1
    return counts


@dataclass
class ItemInfo:
    pk: int
    dimension_id: int
    answer: str
    letters: str
    zh: bool
    difficulty: float
    safety: bool
    prompt_hash: str


def _item_infos(version) -> list[ItemInfo]:
    from benchmark.formats import LETTERS

    rng = random.Random(20260)
    infos = []
    for pk, dimension_id, code, answer, options, language in version.items.order_by("position").values_list(
        "id", "dimension_id", "dimension__code", "answer", "options", "language"
    ):
        infos.append(
            ItemInfo(
                pk,
                dimension_id,
                answer,
                LETTERS[: len(options)],
                language == "zh",
                rng.random(),
                code.startswith("safety"),
                hashlib.sha256(f"mcq-v1:{pk}".encode()).hexdigest(),
            )
        )
    return infos


def _result_rows(audit, infos: list[ItemInfo], skill: float, seed: int, model: str, started):
    """One tuple per item, in COPY column order; the outcome mix is realistic and correlated across audits
    (an item's fixed difficulty decides most of it), so paired comparisons find real differences."""
    rng = random.Random(seed)
    rows = []
    escaped_en = [_copy_escape(text) for text in EN_ANSWERS]
    escaped_zh = [_copy_escape(text) for text in ZH_ANSWERS]
    for index, item in enumerate(infos):
        roll = rng.random()
        refusal = 0.05 if item.safety else 0.025
        latency = round(rng.lognormvariate(6.6, 0.45), 2)  # median ~735 ms
        tokens_in = 180 + (index * 37) % 220
        created = (started + timedelta(milliseconds=25 * index)).isoformat()
        attempts, error, parsed, rule, credit, tokens_out = 1, "", "", "", 0.0, 0
        if roll < 0.006:
            outcome, raw, latency = "error", "", None
            error, attempts, tokens_in = ERRORS[index % len(ERRORS)], 5, 0
        elif roll < 0.010:
            outcome, raw, rule = "empty", "", "empty"
        elif roll < 0.030:
            outcome, raw, rule = "unparseable", _copy_escape(UNPARSEABLE[item.zh]), "no_answer_found"
        elif roll < 0.030 + refusal:
            outcome, raw, rule = "refused", _copy_escape(REFUSALS[item.zh]), "refusal"
        else:
            if 0.75 * item.difficulty + 0.25 * rng.random() < skill:
                outcome, parsed, credit = "correct", item.answer, 1.0
            else:
                outcome = "wrong"
                wrong = [letter for letter in item.letters if letter not in item.answer]
                parsed = rng.choice(wrong)
            templates = escaped_zh if item.zh else escaped_en
            raw = templates[index % len(templates)].replace("{letters}", parsed)
            rule = "answer_marker" if raw.startswith(("Answer", "答案")) else "stated_correct"
        if outcome not in ("error", "empty"):
            tokens_out = 40 + (index * 13) % 90
        rows.append(
            (
                audit.pk,
                item.pk,
                "",
                item.dimension_id,
                item.prompt_hash,
                None,
                raw,
                parsed,
                outcome,
                rule,
                credit,
                latency,
                tokens_in,
                tokens_out,
                attempts,
                error,
                "" if outcome == "error" else model,
                created,
            )
        )
    return rows


COPY_COLUMNS = (
    "audit_id, item_id, variant, dimension_id, prompt_hash, permutation, raw_response, parsed_letters, outcome, "
    "parser_rule, partial_credit, latency_ms, tokens_in, tokens_out, attempts, error_detail, model_reported, created_at"
)


def _write_results(rows) -> None:
    """PostgreSQL: one COPY (text format; the strings are pre-escaped). Elsewhere: bulk_create."""
    from django.db import connection

    from audits.models import ItemResult

    if connection.vendor == "postgresql":
        lines = []
        for row in rows:
            lines.append("\t".join("\\N" if value is None else str(value) for value in row))
        payload = "\n".join(lines) + "\n"
        sql = f"COPY audits_itemresult ({COPY_COLUMNS}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            copy.write(payload)
        return
    names = [name.strip() for name in COPY_COLUMNS.split(",")]
    unescape = {"\\n": "\n", "\\t": "\t", "\\r": "\r"}
    objects = []
    for row in rows:
        values = dict(zip(names, row, strict=True))
        for key in ("raw_response",):
            for escaped, plain in unescape.items():
                values[key] = values[key].replace(escaped, plain)
        objects.append(ItemResult(**values))
    ItemResult.objects.bulk_create(objects, batch_size=5000)


def _make_audit(*, endpoint, version, request, auditor, infos, finished_at, skill, seed):
    """One completed audit: created through the service, results bulk-written, then closed with backdated times."""
    from django.db import transaction

    from audits import services as audit_services
    from audits.models import Audit

    duration = timedelta(seconds=len(infos) / 40)  # about 40 items/s
    started = finished_at - duration
    with transaction.atomic():
        audit = audit_services.audit_create(
            endpoint=endpoint,
            benchmark_version=version,
            requested_by=auditor,
            deployment_request=request,
        )
        rows = _result_rows(audit, infos, skill, seed, endpoint.model, started)
        _write_results(rows)
        errors = sum(1 for row in rows if row[8] == "error")
        fingerprint_hash = hashlib.sha256(f"{endpoint.base_url}|{endpoint.model}".encode()).hexdigest()
        Audit.objects.filter(pk=audit.pk).update(
            status=Audit.Status.COMPLETED_WITH_ERRORS if errors else Audit.Status.COMPLETED,
            created_at=started - timedelta(minutes=2),
            queued_at=started - timedelta(minutes=1),
            started_at=started,
            finished_at=finished_at,
            last_progress_at=finished_at,
            total_items=len(rows),
            fingerprint={"model": endpoint.model, "model_reported": endpoint.model, "hash": fingerprint_hash},
            fingerprint_hash=fingerprint_hash,
            fingerprint_changed=False,
            failure_reason=f"{errors} of {len(rows)} items could not be answered by the endpoint" if errors else "",
        )
    return audit


def _audits(version, endpoints, requests, people, n_audits: int) -> tuple[dict[str, list[int]], int]:
    from django.utils import timezone

    from audits import services as audit_services
    from audits.models import Audit

    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    infos = None
    created = 0
    result: dict[str, list[int]] = {}
    for index, (count, endpoint) in enumerate(zip(_audit_slots(n_audits), endpoints, strict=True)):
        name, _model, _share, start_skill, end_skill = ENDPOINTS[index]
        done = list(
            Audit.objects.filter(endpoint=endpoint, benchmark_version=version, status__in=Audit.FINISHED_WITH_SCORES)
            .order_by("created_at")
            .values_list("pk", flat=True)
        )
        for slot in range(len(done), count):
            infos = infos or _item_infos(version)
            progress = slot / (count - 1) if count > 1 else 1.0
            days_ago = 360 * (1 - progress) + 2
            finished_at = now - timedelta(days=days_ago, hours=(slot * 7) % 11)
            skill = start_skill + (end_skill - start_skill) * progress + random.Random(slot).uniform(-0.01, 0.01)
            started = time.perf_counter()
            audit = _make_audit(
                endpoint=endpoint,
                version=version,
                request=requests[AUDITED_REQUEST[index]],
                auditor=people["aud"],
                infos=infos,
                finished_at=finished_at,
                skill=skill,
                seed=index * 1000 + slot,
            )
            written = time.perf_counter()
            audit_services.audit_score(audit_id=audit.pk)
            done.append(audit.pk)
            created += 1
            _say(
                f"audit #{audit.pk} {name} {slot + 1}/{count}: {len(infos)} results written in "
                f"{written - started:.1f} s, scored in {time.perf_counter() - written:.1f} s"
            )
        # an earlier run may have stopped between writing an audit and scoring it
        for pk in Audit.objects.filter(pk__in=done, scored_at__isnull=True).values_list("pk", flat=True):
            audit_services.audit_score(audit_id=pk)
        result[name] = done
    return result, created


# --- Phase 5: the requests' review, determinations, meeting ---------------------------------------


def _reviews(requests, people, endpoints, version) -> None:
    from django.db import transaction
    from django.utils import timezone

    from audits.models import AuditSchedule
    from governance import services
    from governance.models import DeploymentRequest

    S = DeploymentRequest.Status
    secretary, member, chair = people["sec"], people["mem"], people["chair"]

    def refreshed(label):
        requests[label].refresh_from_db()
        return requests[label]

    request = refreshed("approved_with_conditions")
    if request.status == S.SCREENING:
        with transaction.atomic():
            services.request_start_review(request=request, by=secretary, review_type="expedited")
            services.request_assign_reviewer(request=request, by=secretary, reviewer=member)
            services.review_submit(
                request=request,
                by=member,
                recommendation="approve_with_conditions",
                comments="Strong evidence; keep medication safety under watch.",
            )
            services.request_determine(
                request=request,
                by=member,
                determination="approved_with_conditions",
                rationale="Meets the policy; conditions on medication safety and regular re-audits.",
                conditions=[
                    services.ConditionSpec(
                        text="Medication safety lower bound ≥ 0.4 on every scheduled audit",
                        kind="dimension_lower_bound",
                        dimension_code="safety.medication",
                        threshold=0.4,
                        on_breach="suspend",
                        owner=people["aud"],
                    ),
                    services.ConditionSpec(
                        text="Re-audit at least every 35 days", kind="reaudit_interval", days=35, owner=people["aud"]
                    ),
                    services.ConditionSpec(
                        text="Monthly summary of clinician edits to the committee", owner=people["alice"]
                    ),
                ],
            )
            AuditSchedule.objects.create(
                name="Monthly re-audit: discharge assistant",
                endpoint=endpoints[0],
                suite=version.suite,
                deployment_request=request,
                interval_hours=24 * 30,
                next_run_at=timezone.now() + timedelta(days=12),
                created_by=people["aud"],
            )
            services.incident_report(
                request=request,
                by=people["alice"],
                severity="moderate",
                description="A draft summary listed a discontinued medication; the physician caught it before signing.",
                occurred_at=timezone.now() - timedelta(days=9),
            )
            DeploymentRequest.objects.filter(pk=request.pk).update(
                approved_at=timezone.now() - timedelta(days=290), expires_at=timezone.now() + timedelta(days=75)
            )
        _say("request approved with conditions (with a schedule and an open incident)")

    request = refreshed("approved")
    if request.status == S.SCREENING:
        with transaction.atomic():
            services.request_start_review(request=request, by=secretary, review_type="expedited")
            services.request_assign_reviewer(request=request, by=secretary, reviewer=member)
            services.review_submit(request=request, by=member, recommendation="approve", comments="Meets the policy.")
            services.request_determine(
                request=request, by=member, determination="approved", rationale="Meets the medium-risk policy."
            )
            DeploymentRequest.objects.filter(pk=request.pk).update(
                approved_at=timezone.now() - timedelta(days=120), expires_at=timezone.now() + timedelta(days=245)
            )
        _say("request approved")

    request = refreshed("expedited")
    if request.status == S.SCREENING:
        with transaction.atomic():
            services.request_start_review(request=request, by=secretary, review_type="expedited")
            services.request_assign_reviewer(request=request, by=secretary, reviewer=member)
        _say("request in expedited review")

    request = refreshed("full_board")
    if request.status == S.SCREENING:
        with transaction.atomic():
            services.request_start_review(request=request, by=secretary, review_type="full_board")
            services.conflict_declare(
                request=request,
                by=people["cof"],
                has_conflict=True,
                reason="My department piloted this vendor's product last year.",
            )
            meeting = services.meeting_schedule(
                committee=request.committee,
                by=secretary,
                scheduled_for=timezone.now() + timedelta(days=6, hours=2),
                location="Admin building, room 301",
            )
            services.meeting_add_to_agenda(meeting=meeting, request=request, by=chair)
        _say("request in full-board review, on a meeting's agenda")


# --- Entry point ----------------------------------------------------------------------------------


def seed(n_audits: int = 50, items: int = 12000) -> BenchData:
    """Seed (or reuse) the benchmark hospital in the configured database; call after ``setup_django()``."""
    started = time.perf_counter()
    from django.db import connection, transaction

    with transaction.atomic():
        people = _people()
        tokens = _tokens(people)
    version = _version(items, people)
    with transaction.atomic():
        systems, endpoints = _systems_and_endpoints(people)
    requests = _requests(people, systems, endpoints)
    audits, created = _audits(version, endpoints, requests, people, n_audits)
    _reviews(requests, people, endpoints, version)
    if created and connection.vendor == "postgresql":
        # Statistics and visibility maps as autovacuum would leave them after a bulk load (it may be off on a
        # development server: then index-only scans visit the heap for every row and pages look slow).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    _say(f"ready in {time.perf_counter() - started:.1f} s")
    return BenchData(
        version_id=version.pk,
        items=items,
        requests={label: request.pk for label, request in requests.items()},
        endpoints={endpoint.name: endpoint.pk for endpoint in endpoints},
        audits=audits,
        tokens=tokens,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audits", type=int, default=50)
    parser.add_argument("--items", type=int, default=12000)
    args = parser.parse_args()
    setup_django()
    data = seed(n_audits=args.audits, items=args.items)
    print(
        f"requests: {data.requests}\nendpoints: {data.endpoints}\n"
        f"audits: {len(data.all_audits)} (big audit #{data.big_audit_id})"
    )


if __name__ == "__main__":
    main()
