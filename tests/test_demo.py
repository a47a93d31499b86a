"""`make demo`'s embedded mode end to end: SQLite, the filesystem broker, the seed with real audits, a
threads-pool worker finishing the queued audits, /readyz, and every main page for every demo role.
(The embedded database differs from PostgreSQL in SQL it accepts: this catches what would break it.)"""

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT, Process, free_port

pytestmark = pytest.mark.slow

PAGES_SCRIPT = r"""
import json
from django.contrib.auth.models import User
from django.test import Client
from audits.models import Audit
from governance.models import DeploymentRequest
paths = ["/", "/requests/", "/systems/", "/meetings/", "/policies/", "/audits/", "/audits/endpoints/",
         "/audits/adjudication/", "/benchmark/", "/benchmark/items/", "/notifications/", "/reviews/", "/events/",
         "/dashboard/", "/dashboard/export.csv", "/readyz"]
for request in DeploymentRequest.objects.all():
    paths += [f"/requests/{request.pk}/", f"/requests/{request.pk}/evidence/", f"/requests/{request.pk}/packet/"]
for audit in Audit.objects.all():
    paths += [f"/audits/{audit.pk}/", f"/audits/{audit.pk}/results/?outcome=wrong"]
statuses = {}
for name in ["compliance", "zhang.wei", "li.na", "wang.fang", "zhao.min", "sun.li", "xu.lan", "root"]:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(User.objects.get(username=name))
    for path in paths:
        statuses[f"{name} {path}"] = client.get(path).status_code
audits = list(Audit.objects.values_list("status", flat=True))
print(json.dumps({"statuses": statuses, "audits": audits}))
"""


def demo_env(var_dir) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SECRET_KEY"}
    }
    env.update(
        {
            "DEBUG": "1",
            "MEDGOV_DEMO": "1",
            "MEDGOV_HTTPS": "0",
            "MEDGOV_VAR_DIR": str(var_dir),
            "ALLOWED_HOSTS": "testserver,127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def manage(env, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_embedded_demo_works_without_postgresql_or_redis(tmp_path):
    env = demo_env(tmp_path / "var")
    assert manage(env, "migrate", "--noinput", "-v", "0").returncode == 0
    processes, endpoints = [], []
    try:
        for name in ("hospital-qwen", "vendor-chat", "judge"):
            port = free_port()
            processes.append(
                Process(
                    [
                        sys.executable,
                        "manage.py",
                        "simulate_llm",
                        "--port",
                        str(port),
                        "--profile",
                        f"scripts/demo_profiles/{name}.json",
                    ],
                    env,
                    tmp_path / f"{name}.log",
                )
            )
            endpoints += ["--endpoint", f"{name}=http://127.0.0.1:{port}/v1"]
        time.sleep(3)
        seeded = manage(env, "seed_demo", *endpoints, timeout=600)
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        assert "demo hospital ready" in seeded.stdout
        assert "already seeded" in manage(env, "seed_demo", *endpoints).stdout  # idempotent
        worker = Process(
            [
                str(ROOT / ".venv/bin/celery"),
                "-A",
                "config",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "--beat",
                "--schedule",
                str(tmp_path / "beat"),
                "--loglevel",
                "INFO",
            ],
            env,
            tmp_path / "worker.log",
        )
        processes.append(worker)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            report = manage(env, "shell", "-c", PAGES_SCRIPT, timeout=300)
            assert report.returncode == 0, report.stderr[-3000:]
            document = json.loads(report.stdout.strip().splitlines()[-1])
            finished = all(
                status in ("completed", "completed_with_errors", "scheduled") for status in document["audits"]
            )
            if finished and document["statuses"]["compliance /readyz"] == 200:
                break
            time.sleep(3)
        assert all(status in ("completed", "completed_with_errors", "scheduled") for status in document["audits"]), (
            document["audits"],
            worker.output()[-3000:],
        )
        errors = {page: code for page, code in document["statuses"].items() if code >= 500}
        assert not errors, errors
        assert document["statuses"]["compliance /dashboard/"] == 200
        assert document["statuses"]["compliance /readyz"] == 200  # the threads-pool worker answers the ping
        assert document["statuses"]["zhao.min /requests/1/evidence/"] == 200
    finally:
        for process in processes:
            process.stop()
