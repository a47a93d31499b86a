"""The foundation: settings from the environment, PostgreSQL, Redis, a real worker, health, compose."""

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse

from governance.models import Role

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env) -> subprocess.CompletedProcess:
    full_env = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY"}}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.django_db
def test_the_database_is_postgresql_when_database_url_says_so():
    assert os.environ["DATABASE_URL"].startswith("postgres")
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert "PostgreSQL" in cursor.fetchone()[0]


def test_production_start_with_the_default_secret_key_is_refused_in_one_line():
    result = run_manage("check", DEBUG="0")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unparsable_database_url_is_refused_in_one_line():
    result = run_manage("check", DEBUG="1", DATABASE_URL="notadb://whatever")
    assert result.returncode == 2
    assert result.stderr.startswith("medgov: configuration error: DATABASE_URL")
    assert "Traceback" not in result.stderr


def test_a_bad_boolean_is_refused_in_one_line():
    result = run_manage("check", DEBUG="maybe")
    assert result.returncode == 2
    assert "DEBUG must be a boolean" in result.stderr


def test_the_worker_refuses_bad_configuration_in_one_line():
    env = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY"}}
    env["DEBUG"] = "0"
    result = subprocess.run(
        [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "medgov: configuration error: SECRET_KEY is the built-in development key; "
        "set SECRET_KEY (or DEBUG=1 for local development)"
    )


def test_settings_default_to_the_hospital_time_zone_and_both_languages():
    assert os.environ.get("TIME_ZONE", "Asia/Shanghai") == settings.TIME_ZONE
    assert {code for code, _name in settings.LANGUAGES} == {"zh-hans", "en"}


def test_celery_is_configured_for_at_least_once_delivery():
    from config.celery import app

    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.task_time_limit and conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_url.startswith("redis://")
    assert "audits-recover-stalled" in conf.beat_schedule


@pytest.mark.django_db
def test_role_groups_exist_with_their_permissions():
    names = set(Group.objects.values_list("name", flat=True))
    assert {role.value for role in Role} <= names
    admin_perms = set(Group.objects.get(name="compliance_admin").permissions.values_list("codename", flat=True))
    assert {"view_deploymentrequest", "view_audit", "change_approvalpolicy"} <= admin_perms
    assert "delete_deploymentrequest" not in admin_perms


def test_healthz_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_unavailable_without_a_worker(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False


def test_a_real_task_runs_through_a_real_worker_on_redis(celery_worker, client):
    from config.celery import health_task

    result = health_task.delay().get(timeout=30)
    assert result["ok"] is True
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["worker"]["workers"]


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_the_login_page_and_api_docs_render(client, django_user_model):
    assert client.get(reverse("login")).status_code == 200
    assert client.get("/api/schema/").status_code in (401, 403)
    client.force_login(django_user_model.objects.create_user("reader", password="x-very-long-password"))
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "MedGov API"
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


@pytest.mark.django_db
def test_the_api_accepts_tokens_and_refuses_anonymous_calls(client, django_user_model):
    from rest_framework.authtoken.models import Token

    assert client.get("/api/v1/benchmark-suites/").status_code in (401, 403)
    user = django_user_model.objects.create_user("tok", password="x-very-long-password")
    user.groups.add(Group.objects.get(name=Role.AUDITOR))
    token = Token.objects.create(user=user)
    response = client.get("/api/v1/benchmark-suites/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200


def test_docker_compose_describes_the_full_stack():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "redis", "web", "worker", "beat"}
    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("db", "redis", "web", "worker", "beat"):
        assert "healthcheck" in services[name], name
    assert "pgdata" in compose["volumes"]
    assert any(volume.startswith("pgdata:") for volume in services["db"]["volumes"])
    assert "gunicorn config.wsgi:application" in " ".join(services["web"]["command"])
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["build"] == "."
        env = service["environment"]
        for variable in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"):
            assert variable in env, (name, variable)
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379")
        assert env["DEBUG"] == "0"
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "|| true\n" not in dockerfile  # a failed install or collectstatic must fail the build
    for folder in ("config", "governance", "audits", "benchmark", "templates", "static"):
        assert f"COPY {folder} ./{folder}" in dockerfile


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    assert "make demo" in readme and "make test" in readme
    assert ci.strip().splitlines()[-1] == "make test"


def test_the_readme_examples_are_valid_files():
    import json
    import re

    from benchmark.formats import ItemValidator
    from benchmark.scenario_formats import ScenarioValidator
    from benchmark.taxonomy import DEFAULT_DIMENSIONS

    codes = [row[0] for row in DEFAULT_DIMENSIONS]
    blocks = re.findall(r"```json\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    item, scenario = (json.loads(block) for block in blocks[:2])
    assert ItemValidator(codes).validate(item, 1).problems == []
    assert ScenarioValidator(codes).validate(scenario, 1).problems == []


@pytest.mark.django_db
def test_the_web_containers_health_check_is_answered_with_the_compose_settings(client, settings):
    """The health check's host must be allowed by the ALLOWED_HOSTS compose gives the web container, or every
    check answers 400 and the container never becomes healthy."""
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    allowed = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", web["environment"]["ALLOWED_HOSTS"])  # the defaults
    check = web["healthcheck"]["test"]
    url = httpx.URL(check[-1])
    headers = {
        check[i + 1].split(":")[0]: check[i + 1].split(":", 1)[1].strip() for i, a in enumerate(check) if a == "-H"
    }
    settings.ALLOWED_HOSTS = allowed.split(",")
    response = client.get(url.path, HTTP_HOST=f"{url.host}:{url.port}", headers=headers)
    assert response.status_code < 400  # curl -f fails on 4xx/5xx only
