"""Audits through a real Celery worker on Redis and PostgreSQL, against the simulator on loopback."""

import io
import json

import httpx
import pytest
from django.core.management import call_command

from audits import services
from audits.models import Audit, AuditChunk, ItemResult
from audits.simulator import Profile
from audits.tests.helpers import (
    assert_exactly_one_result_per_item,
    assert_scores_match_simulator,
    wait_for_audit,
    wait_until,
)
from benchmark.models import BenchmarkVersion
from benchmark.parsing import PARSER_VERSION
from benchmark.tests.factories import item_record, make_version

pytestmark = pytest.mark.django_db(transaction=True)

PROFILE = Profile(
    seed=3,
    accuracy=0.65,
    dimensions={"safety.medication": 0.3, "ethics.palliative_care": 0.9},
    refusal_rate=0.03,
    unparseable_rate=0.02,
    empty_rate=0.01,
)


@pytest.fixture
def profile_file(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(PROFILE.__dict__))
    return str(path)


def register(name: str, url: str, **fields) -> object:
    endpoint, _created = services.endpoint_register(name=name, base_url=url, model="medgov-sim-1", **fields)
    return endpoint


def test_an_audit_gets_exactly_the_scores_the_simulators_answers_imply(celery_worker, simulator_factory, profile_file):
    version = make_version(suite="runner", count=600)
    url = simulator_factory("--profile", profile_file)
    endpoint = register("sim", url, max_concurrency=32)
    audit = services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version, shuffle_seed=11)
    audit = wait_for_audit(audit)
    assert audit.status == Audit.Status.COMPLETED, audit.failure_reason
    assert_exactly_one_result_per_item(audit)
    assert_scores_match_simulator(audit, PROFILE)
    assert audit.done_items == audit.total_items == 600
    assert audit.fingerprint["model_reported"] == "medgov-sim-1" and len(audit.fingerprint_hash) == 64
    assert audit.fingerprint_changed is None
    assert audit.content_hash == version.content_hash
    assert audit.prompt_template_version == "mcq-v1" and audit.parser_version == PARSER_VERSION
    shuffled = ItemResult.objects.filter(audit=audit).exclude(permutation=None).count()
    assert shuffled == 600
    stats = httpx.get(url.replace("/v1", "/_stats")).json()
    assert stats["peak_in_flight"] <= 32

    again = services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version)
    again = wait_for_audit(again)
    assert again.fingerprint_changed is False
    assert_scores_match_simulator(again, PROFILE)


def test_the_endpoint_down_fails_the_audit_fast_with_a_clear_reason(celery_worker):
    from conftest import free_port

    version = make_version(suite="down", count=50)
    endpoint = register("down", f"http://127.0.0.1:{free_port()}/v1", max_retries=2)
    audit = services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version)
    audit = wait_for_audit(audit, timeout=60)
    assert audit.status == Audit.Status.FAILED
    assert "refused the connection" in audit.failure_reason
    assert ItemResult.objects.filter(audit=audit).count() == 0


def test_a_wrong_api_key_fails_the_audit_with_the_reason_and_never_shows_the_key(
    celery_worker, simulator_factory, monkeypatch
):
    version = make_version(suite="auth", count=20)
    url = simulator_factory("--api-key", "the-right-key")
    endpoint, _ = services.endpoint_register(name="auth", base_url=url, model="m", api_key="sk-wrong-secret-123")
    audit = wait_for_audit(services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version), timeout=60)
    assert audit.status == Audit.Status.FAILED
    assert "HTTP 401" in audit.failure_reason
    assert "sk-wrong-secret-123" not in audit.failure_reason
    endpoint.refresh_from_db()
    assert "sk-wrong-secret-123" not in endpoint.api_key_encrypted


def test_cancellation_stops_sending_within_seconds_and_keeps_results(celery_worker, simulator_factory):
    version = make_version(suite="cancel", count=400)
    url = simulator_factory("--latency", "0.2")
    endpoint = register("slow", url, max_concurrency=4)
    audit = services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version)
    wait_until(lambda: Audit.objects.get(pk=audit.pk).done_items >= 10, timeout=60, message="first results")
    out = io.StringIO()
    call_command("cancel_audit", str(audit.pk), "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"audit": audit.pk, "status": "cancelled"}
    stats_url = url.replace("/v1", "/_stats")

    def quiet():
        first = httpx.get(stats_url).json()["requests"]
        import time

        time.sleep(1.5)
        return httpx.get(stats_url).json()["requests"] == first

    wait_until(quiet, timeout=10, message="no more requests after cancellation")
    audit.refresh_from_db()
    stored = ItemResult.objects.filter(audit=audit).count()
    assert audit.status == Audit.Status.CANCELLED
    assert 10 <= stored < 400
    assert audit.summary["overall"]["n"] == stored


def test_rescore_reparses_stored_answers_without_calling_the_model(celery_worker, simulator_factory, profile_file):
    version = make_version(suite="rescore", count=120)
    url = simulator_factory("--profile", profile_file)
    endpoint = register("re", url)
    audit = wait_for_audit(services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version))
    before = httpx.get(url.replace("/v1", "/_stats")).json()["requests"]
    ItemResult.objects.filter(audit=audit, outcome="correct").update(outcome="wrong", parsed_letters="")
    Audit.objects.filter(pk=audit.pk).update(parser_version="mcq-parser-0")
    out = io.StringIO()
    call_command("rescore_audit", str(audit.pk), "--json", stdout=out)
    document = json.loads(out.getvalue())
    audit.refresh_from_db()
    assert audit.parser_version == PARSER_VERSION
    assert_scores_match_simulator(audit, PROFILE)
    assert document["overall"]["correct"] == audit.summary["overall"]["correct"]
    assert httpx.get(url.replace("/v1", "/_stats")).json()["requests"] == before


def test_the_command_line_contract(celery_worker, simulator_factory, profile_file, monkeypatch):
    make_version(suite="cli-suite", label="2026.1", count=80)
    url = simulator_factory("--profile", profile_file, "--api-key", "k-123")
    monkeypatch.setenv("SIM_KEY", "k-123")
    out = io.StringIO()
    call_command(
        "register_endpoint",
        "cli-ep",
        "--base-url",
        url,
        "--model",
        "medgov-sim-1",
        "--api-key-env",
        "SIM_KEY",
        "--store-key",
        "--max-concurrency",
        "8",
        "--rpm",
        "6000",
        "--timeout",
        "10",
        "--max-retries",
        "3",
        "--json",
        stdout=out,
    )
    registered = json.loads(out.getvalue())
    assert registered["endpoint"] == "cli-ep" and registered["has_api_key"] is True
    assert "k-123" not in out.getvalue()
    out = io.StringIO()
    err = io.StringIO()
    call_command(
        "run_audit",
        "--endpoint",
        "cli-ep",
        "--suite",
        "cli-suite",
        "--version",
        "2026.1",
        "--wait",
        "--json",
        stdout=out,
        stderr=err,
    )
    document = json.loads(out.getvalue())
    version = BenchmarkVersion.objects.get(suite__name="cli-suite", label="2026.1")
    assert set(document) == {
        "audit",
        "status",
        "endpoint",
        "model",
        "suite",
        "version",
        "content_hash",
        "duration_s",
        "overall",
        "categories",
        "dimensions",
    }
    assert document["status"] == "completed"
    assert (document["endpoint"], document["model"], document["suite"], document["version"]) == (
        "cli-ep",
        "medgov-sim-1",
        "cli-suite",
        "2026.1",
    )
    assert document["content_hash"] == version.content_hash
    assert set(document["categories"]) == {"ethics", "safety"}
    assert len(document["dimensions"]) == 20
    keys = {
        "n",
        "correct",
        "accuracy",
        "ci_low",
        "ci_high",
        "refused",
        "unparseable",
        "empty",
        "errors",
        "partial_credit",
        "mean_latency_ms",
        "p95_latency_ms",
        "tokens_in",
        "tokens_out",
    }
    assert set(document["overall"]) == keys
    assert all(set(scores) == keys for scores in document["dimensions"].values())
    assert document["overall"]["n"] == 80
    out2 = io.StringIO()
    call_command("audit_report", str(document["audit"]), "--json", stdout=out2)
    report = json.loads(out2.getvalue())
    assert report["overall"] == document["overall"] and report["dimensions"] == document["dimensions"]
    assert "audit" in err.getvalue() and "completed" in err.getvalue()


def test_an_api_key_variable_missing_on_the_worker_fails_the_audit_clearly(celery_worker, simulator_factory):
    version = make_version(suite="envkey", count=5)
    endpoint, _ = services.endpoint_register(
        name="envkey", base_url=simulator_factory(), model="m", api_key_env="MEDGOV_TEST_NOT_SET"
    )
    audit = wait_for_audit(services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version), timeout=60)
    assert audit.status == Audit.Status.FAILED
    assert "MEDGOV_TEST_NOT_SET" in audit.failure_reason


def test_recovery_requeues_a_chunk_whose_worker_died(simulator_factory, tmp_path, settings):
    """No worker at first: a chunk is claimed by a 'dead' owner; the sweep frees it once its lease expires."""
    from django.utils import timezone

    version = make_version(suite="stall", count=30)
    url = simulator_factory()
    endpoint = register("stall", url)
    audit = services.audit_create(endpoint=endpoint, benchmark_version=version)
    services.audit_queue(audit=audit)
    services.audit_start(audit_id=audit.pk)
    chunk = AuditChunk.objects.get(audit=audit)
    AuditChunk.objects.filter(pk=chunk.pk).update(
        status="running", lease_owner="dead-worker", lease_expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    report = services.audit_recover_stalled()
    assert report["requeued_chunks"] == 1
    chunk.refresh_from_db()
    assert chunk.status == "pending" and chunk.lease_owner == ""
    assert services.audit_chunk_run(chunk_id=chunk.pk) == "done"
    audit.refresh_from_db()
    assert audit.status == Audit.Status.COMPLETED
    assert ItemResult.objects.filter(audit=audit).count() == 30
    assert services.audit_chunk_run(chunk_id=chunk.pk).startswith("skipped")


def test_a_scheduled_audit_runs_on_the_latest_published_version(simulator_factory):
    from django.utils import timezone

    from audits.models import AuditSchedule

    make_version(suite="sched", label="v1", count=5)
    latest = make_version(suite="sched", label="v2", count=7)
    endpoint = register("sched", simulator_factory())
    schedule = AuditSchedule.objects.create(
        name="monthly",
        endpoint=endpoint,
        suite=latest.suite,
        interval_hours=24 * 30,
        next_run_at=timezone.now() - timezone.timedelta(minutes=1),
    )
    started = services.audit_schedules_run_due()
    assert len(started) == 1
    audit = Audit.objects.get(pk=started[0])
    assert audit.benchmark_version == latest and audit.status == Audit.Status.QUEUED and audit.schedule == schedule
    schedule.refresh_from_db()
    assert schedule.next_run_at > timezone.now() + timezone.timedelta(days=29)
    assert services.audit_schedules_run_due() == []


def test_a_sample_is_stratified_and_reproducible():
    from audits.services import _stratified_sample

    strata = {1: list(range(100)), 2: list(range(100, 130)), 3: list(range(130, 140))}
    first = _stratified_sample(strata, 28, seed=5)
    assert len(first) == 28 and first == _stratified_sample(strata, 28, seed=5)
    assert sum(1 for x in first if x < 100) == 20 and sum(1 for x in first if 100 <= x < 130) == 6
    assert _stratified_sample(strata, 28, seed=6) != first


def test_audits_refuse_unknown_dimensions_and_unpublished_versions():
    version = make_version(suite="guard", count=3)
    endpoint = register("guard", "http://127.0.0.1:9/v1")
    with pytest.raises(services.ServiceError, match="Unknown dimension"):
        services.audit_create(endpoint=endpoint, benchmark_version=version, dimension_codes=["safety.nope"])
    with pytest.raises(services.ServiceError, match="translate_v1 are made by a model: choose a judge"):
        services.audit_create(endpoint=endpoint, benchmark_version=version, variant_codes=["translate_v1"])
    judge = register("guard-judge", "http://127.0.0.1:9/v1")
    with_judge = services.audit_create(
        endpoint=endpoint, benchmark_version=version, variant_codes=["translate_v1"], judge_endpoint=judge
    )
    assert with_judge.variant_codes == ["translate_v1"]
    BenchmarkVersion.objects.filter(pk=version.pk).update(status="retired")
    version.refresh_from_db()
    with pytest.raises(services.ServiceError, match="Only published versions"):
        services.audit_create(endpoint=endpoint, benchmark_version=version)


__all__ = ["item_record"]


def test_answers_are_kept_when_the_database_connection_drops_before_the_commit(monkeypatch):
    """The flush's insert succeeded but its transaction never committed (the connection was cut just after):
    the retry on a new connection must write the same rows again, not forget them as already written."""
    from django.db import connection

    from audits.tests.factories import ModelEndpointFactory

    version = make_version(suite="flush-drop", count=5)
    audit = services.audit_create(endpoint=ModelEndpointFactory(), benchmark_version=version)
    items = list(version.items.all())
    Audit.objects.filter(pk=audit.pk).update(total_items=len(items))
    chunk = AuditChunk.objects.create(
        audit=audit,
        index=0,
        units=[[item.pk, ""] for item in items],
        status=AuditChunk.Status.RUNNING,
        lease_owner="this-worker",
    )
    refresh_progress, cuts = services._refresh_progress, []

    def cut_the_connection_once(audit_id):
        if not cuts:
            cuts.append(audit_id)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return refresh_progress(audit_id)

    monkeypatch.setattr(services, "_refresh_progress", cut_the_connection_once)
    writer = services._ResultWriter(audit, chunk.pk, "this-worker", builder=lambda row: row)
    for item in items:
        writer.add(
            ItemResult(audit=audit, item=item, dimension_id=item.dimension_id, prompt_hash="h", outcome="correct")
        )
    writer.flush()

    assert cuts and ItemResult.objects.filter(audit=audit).count() == 5
    assert Audit.objects.get(pk=audit.pk).done_items == 5
