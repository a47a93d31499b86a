"""Fault injection with real processes: workers killed, Redis restarted, database connections dropped,
two workers sharing an endpoint, a flaky endpoint and a full 12,000-item audit. Each audit must still
complete with exactly one result per item and the scores the simulator's answers imply.

Slow: run by `make test-faults` and by CI (`make test`)."""

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from django.db import connection

from audits import services
from audits.models import Audit, ItemResult
from audits.simulator import Profile
from audits.tests.helpers import (
    assert_exactly_one_result_per_item,
    assert_scores_match_simulator,
    wait_for_audit,
    wait_until,
)
from benchmark import services as benchmark_services
from benchmark.tests.factories import item_record, jsonl_lines
from conftest import ROOT, Process, child_env, free_port, purge_queues, start_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROFILE = Profile(
    seed=9, accuracy=0.6, dimensions={"safety.medication": 0.35}, refusal_rate=0.02, unparseable_rate=0.01
)
FAST_RECOVERY = {
    "AUDIT_LEASE_SECONDS": 4,
    "AUDIT_REQUEUE_PENDING_SECONDS": 5,
    "AUDIT_RECOVERY_INTERVAL_S": 1,
    "AUDIT_CHUNK_SIZE": 200,
}


@pytest.fixture
def profile_file(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(PROFILE.__dict__))
    return str(path)


def big_version(count: int, suite: str):
    records = [item_record(index) for index in range(count)]
    return benchmark_services.benchmark_version_import(suite_name=suite, lines=jsonl_lines(records), filename="f.jsonl")


def stats(url: str) -> dict:
    return httpx.get(url.replace("/v1", "/_stats"), timeout=5).json()


def progressed(audit: Audit, at_least: int) -> bool:
    return Audit.objects.filter(pk=audit.pk, done_items__gte=at_least).exists()


def finish(audit: Audit, timeout: float = 240) -> Audit:
    audit = wait_for_audit(audit, timeout=timeout)
    assert audit.status == Audit.Status.COMPLETED, (audit.status, audit.failure_reason)
    assert_exactly_one_result_per_item(audit)
    assert_scores_match_simulator(audit, PROFILE)
    return audit


def test_a_worker_killed_mid_audit_loses_nothing(tmp_path, simulator_factory, profile_file):
    purge_queues()
    version = big_version(3000, "sigkill")
    url = simulator_factory("--profile", profile_file, "--latency", "0.05")
    endpoint, _ = services.endpoint_register(name="sigkill", base_url=url, model="m", max_concurrency=16)
    first = start_worker(tmp_path, name="doomed", **FAST_RECOVERY)
    audit = services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version)
    wait_until(lambda: progressed(audit, 600), timeout=60, message="progress before the kill")
    first.kill(signal.SIGKILL)
    first.popen.wait(10)
    done_at_kill = Audit.objects.get(pk=audit.pk).done_items
    assert done_at_kill < 3000
    second = start_worker(tmp_path, name="rescuer", beat=True, **FAST_RECOVERY)
    try:
        audit = finish(audit)
        assert audit.requeue_count >= 1
    finally:
        second.stop()
        first.stop()


def test_a_redis_restart_mid_audit_loses_nothing(tmp_path, simulator_factory, profile_file):
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    redis_args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    redis = Process(redis_args, dict(os.environ), tmp_path / "redis-1.log")
    wait_until(lambda: _redis_up(port), timeout=20, message="dedicated redis up")
    big_version(3000, "redis-restart")
    url = simulator_factory("--profile", profile_file, "--latency", "0.05")
    services.endpoint_register(name="redis-restart", base_url=url, model="m", max_concurrency=16)
    worker = start_worker(tmp_path, name="w-redis", beat=True, REDIS_URL=redis_url, **FAST_RECOVERY)
    try:
        queued = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "run_audit",
                "--endpoint",
                "redis-restart",
                "--suite",
                "redis-restart",
                "--json",
            ],
            cwd=ROOT,
            env=child_env(REDIS_URL=redis_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert queued.returncode == 0, queued.stderr
        audit = Audit.objects.get(pk=json.loads(queued.stdout)["audit"])
        wait_until(lambda: progressed(audit, 500), timeout=60, message="progress before the restart")
        redis.kill(signal.SIGKILL)
        redis.popen.wait(10)
        time.sleep(2)
        redis = Process(redis_args, dict(os.environ), tmp_path / "redis-2.log")
        wait_until(lambda: _redis_up(port), timeout=20, message="redis back")
        audit = finish(audit)
    finally:
        worker.stop()
        redis.stop()


def _redis_up(port: int) -> bool:
    import redis as redis_client

    try:
        return redis_client.Redis(port=port, socket_timeout=0.5).ping()
    except Exception:
        return False


def test_dropped_database_connections_mid_audit_lose_nothing(tmp_path, simulator_factory, profile_file):
    purge_queues()
    version = big_version(3000, "pg-terminate")
    url = simulator_factory("--profile", profile_file, "--latency", "0.05")
    endpoint, _ = services.endpoint_register(name="pg-terminate", base_url=url, model="m", max_concurrency=16)
    worker = start_worker(tmp_path, name="w-pg", beat=True, **FAST_RECOVERY)
    try:
        audit = services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version)
        for threshold in (400, 1200, 2000):
            wait_until(lambda threshold=threshold: progressed(audit, threshold), timeout=60, message="progress")
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                assert cursor.fetchone()[0] >= 1  # the worker's connections were cut
        audit = finish(audit)
        assert "database connection lost" in worker.output() or "OperationalError" in worker.output()
    finally:
        worker.stop()


def test_two_workers_never_double_send_and_share_the_concurrency_limit(tmp_path, simulator_factory, profile_file):
    purge_queues()
    version = big_version(2000, "two-workers")
    url = simulator_factory("--profile", profile_file, "--latency", "0.05")
    endpoint, _ = services.endpoint_register(name="two-workers", base_url=url, model="m", max_concurrency=8)
    env = {**FAST_RECOVERY, "AUDIT_CHUNK_SIZE": 50}
    workers = [start_worker(tmp_path, name=f"w{n}", concurrency=2, **env) for n in (1, 2)]
    try:
        audit = finish(services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version))
        served = stats(url)
        assert served["peak_in_flight"] <= 8, served
        assert served["answered_items"] == 2000 and served["answered_more_than_once"] == 0, served
        assert served["requests"] == 2001  # every item once, plus the fingerprint probe
        for worker in workers:
            assert "audit_chunk_run_task" in worker.output() and "succeeded" in worker.output()
        assert audit.done_items == 2000
    finally:
        for worker in workers:
            worker.stop()


def test_an_endpoint_with_429s_500s_and_hangs_still_gives_exact_scores(tmp_path, simulator_factory, profile_file):
    purge_queues()
    version = big_version(3000, "flaky")
    url = simulator_factory(
        "--profile", profile_file, "--p429", "0.05", "--p500", "0.03", "--phang", "0.005", "--hang-seconds", "20"
    )
    endpoint, _ = services.endpoint_register(
        name="flaky", base_url=url, model="m", max_concurrency=32, timeout_s=1.5, max_retries=8
    )
    worker = start_worker(tmp_path, name="w-flaky", **FAST_RECOVERY)
    try:
        audit = finish(services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version))
        served = stats(url)
        assert served["by_status"].get("429", 0) > 50 and served["by_status"].get("500", 0) > 30, served
        retried = ItemResult.objects.filter(audit=audit, attempts__gt=1).count()
        assert retried > 200
        assert audit.error_items == 0
    finally:
        worker.stop()


def test_a_12000_item_audit_gets_exactly_the_simulators_scores(tmp_path, simulator_factory, profile_file):
    purge_queues()
    version = big_version(12000, "twelve-thousand")
    url = simulator_factory("--profile", profile_file)
    endpoint, _ = services.endpoint_register(name="twelve", base_url=url, model="m", max_concurrency=64)
    worker = start_worker(tmp_path, name="w-12k")
    try:
        audit = finish(services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version), timeout=300)
        assert audit.total_items == 12000 and audit.summary["overall"]["n"] == 12000
    finally:
        worker.stop()
