"""Security: login protection, CSRF, production settings and headers, secrets, SSRF and uploads."""

import json
import logging
import os
import socket
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from audits import services as audit_services
from audits.models import ModelEndpoint
from audits.netpolicy import EndpointNotAllowed, check_endpoint_url
from audits.secrets import decrypt_secret
from config.errors import ServiceError
from conftest import ROOT
from governance import services
from governance.tests.conftest import build_hospital
from governance.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "prod-" + "x9Lk2" * 12,
    "ALLOWED_HOSTS": "medgov.hospital.example",
    "CSRF_TRUSTED_ORIGINS": "https://medgov.hospital.example",
    "MEDGOV_HTTPS": "1",
    "MEDGOV_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def test_repeated_failed_logins_lock_the_account(client):
    UserFactory(username="target")
    for _ in range(4):
        response = client.post("/accounts/login/", {"username": "target", "password": "wrong-password-123"})
        assert response.status_code == 200
    fifth = client.post("/accounts/login/", {"username": "target", "password": "wrong-password-123"})
    assert fifth.status_code == 429
    locked = client.post("/accounts/login/", {"username": "target", "password": "correct-horse-battery-staple"})
    assert locked.status_code == 429
    assert b"Too many failed sign-in attempts" in locked.content
    assert "_auth_user_id" not in client.session


def test_a_correct_login_works_and_sessions_expire(client, settings):
    UserFactory(username="nurse")
    response = client.post("/accounts/login/", {"username": "nurse", "password": "correct-horse-battery-staple"})
    assert response.status_code == 302
    assert settings.SESSION_COOKIE_AGE <= 8 * 3600 and settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert settings.SESSION_COOKIE_HTTPONLY


def test_weak_passwords_are_refused():
    for weak in ("short", "password123", "1234567890123"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("correct-horse-battery-staple")


def test_forms_and_the_session_api_need_a_csrf_token():
    user = UserFactory(username="csrf", roles=["requester"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/notifications/").status_code == 403
    assert client.post("/api/v1/notifications/mark-read/").status_code == 403
    page = client.get("/notifications/")
    token = page.cookies["csrftoken"].value
    assert client.post("/notifications/", HTTP_X_CSRFTOKEN=token).status_code == 302


def _run(code: str, env: dict) -> subprocess.CompletedProcess:
    full_env = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY", "MEDGOV_HTTPS"}}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, *code.split(" ")] if code.startswith("manage.py") else [sys.executable, "-c", code],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deployment_checklist():
    result = _run("manage.py check --deploy --fail-level WARNING", PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_responses_carry_security_headers():
    script = (
        "import os, django, json; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup();"
        "from django.test import Client; from django.conf import settings;"
        "r = Client().get('/healthz', secure=True, HTTP_HOST='medgov.hospital.example');"
        "plain = Client().get('/accounts/login/', HTTP_HOST='medgov.hospital.example');"
        "print(json.dumps({'status': r.status_code, 'hsts': r.get('Strict-Transport-Security'),"
        " 'csp': r.get('Content-Security-Policy'), 'frame': r.get('X-Frame-Options'),"
        " 'nosniff': r.get('X-Content-Type-Options'), 'redirect': plain.status_code,"
        " 'location': plain.get('Location'), 'secure_cookies': settings.SESSION_COOKIE_SECURE and"
        " settings.CSRF_COOKIE_SECURE}))"
    )
    result = _run(script, PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    headers = json.loads(result.stdout.strip().splitlines()[-1])
    assert headers["status"] == 200
    assert headers["hsts"].startswith("max-age=31536000")
    assert "default-src 'self'" in headers["csp"] and "script-src 'self'" in headers["csp"]
    assert "frame-ancestors 'none'" in headers["csp"]
    assert headers["frame"] == "DENY" and headers["nosniff"] == "nosniff"
    assert headers["redirect"] == 301 and headers["location"].startswith("https://")
    assert headers["secure_cookies"] is True


def test_every_page_has_a_strict_content_security_policy(client):
    client.force_login(UserFactory(username="csp"))
    csp = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


# --- Secrets -------------------------------------------------------------------------------------------------


def test_api_keys_are_encrypted_at_rest_and_never_shown(client, settings, caplog):
    from django.db import connection

    caplog.set_level(logging.DEBUG)
    secret = "sk-live-DO-NOT-LEAK-4f9a2b"
    h = build_hospital()
    endpoint, _ = audit_services.endpoint_register(
        name="vendor", base_url="http://127.0.0.1:9/v1", model="m", api_key=secret, team=h.team
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key_encrypted FROM audits_modelendpoint WHERE id = %s", [endpoint.pk])
        stored = cursor.fetchone()[0]
    assert secret not in stored and decrypt_secret(stored) == secret
    client.force_login(h.auditor)
    for url in (
        f"/api/v1/endpoints/{endpoint.pk}/",
        "/api/v1/endpoints/",
        f"/audits/endpoints/{endpoint.pk}/",
        f"/audits/endpoints/{endpoint.pk}/edit/",
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert secret.encode() not in response.content and stored.encode() not in response.content
    probe = client.post(f"/api/v1/endpoints/{endpoint.pk}/test-connection/")
    assert probe.status_code == 200 and probe.json()["ok"] is False
    assert secret not in probe.content.decode()
    assert secret not in caplog.text


def test_the_key_is_never_in_error_messages_even_when_the_server_echoes_it(simulator_factory):
    from audits.clients import EndpointConfig, _redact

    config = EndpointConfig(endpoint_id=1, kind="openai_chat", base_url="http://x/v1", model="m", api_key="sk-echoed")
    assert "sk-echoed" not in _redact("upstream said: invalid key sk-echoed", config)


def test_rotating_the_encryption_key_re_encrypts_every_stored_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.MEDGOV_ENCRYPTION_KEYS = [old]
    endpoint, _ = audit_services.endpoint_register(
        name="rot", base_url="http://127.0.0.1:9/v1", model="m", api_key="sk-rotate-me"
    )
    settings.MEDGOV_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_endpoint_keys")
    settings.MEDGOV_ENCRYPTION_KEYS = [new]
    endpoint.refresh_from_db()
    assert decrypt_secret(endpoint.api_key_encrypted) == "sk-rotate-me"
    settings.MEDGOV_ENCRYPTION_KEYS = [old]
    with pytest.raises(ServiceError, match="cannot be decrypted"):
        audit_services.endpoint_api_key(endpoint)


# --- Server-side request forgery ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/v1",
        "http://metadata.google.internal/v1",
        "http://100.100.100.200/v1",
        "file:///etc/passwd",
        "ftp://models.example/v1",
        "http://user:pass@127.0.0.1:8000/v1",
        "http://0.0.0.0:8000/v1",
    ],
)
def test_link_local_metadata_and_odd_urls_are_refused(url):
    with pytest.raises(EndpointNotAllowed):
        check_endpoint_url(url)
    with pytest.raises(EndpointNotAllowed):
        audit_services.endpoint_register(name="ssrf", base_url=url, model="m")
    assert not ModelEndpoint.objects.filter(name="ssrf").exists()


def test_a_host_name_resolving_to_a_metadata_address_is_refused(monkeypatch):
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "innocent.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(EndpointNotAllowed, match="link-local"):
        check_endpoint_url("http://innocent.example/v1")


def test_the_hospital_can_restrict_endpoints_to_its_networks(settings):
    settings.MEDGOV_ENDPOINT_ALLOWED_NETWORKS = ["10.0.0.0/8", "llm.hospital.internal"]
    check_endpoint_url("http://10.20.30.40:8000/v1")
    check_endpoint_url("https://llm.hospital.internal/v1")
    with pytest.raises(EndpointNotAllowed, match="outside the networks"):
        check_endpoint_url("http://127.0.0.1:8000/v1")
    with pytest.raises(EndpointNotAllowed, match="outside the networks"):
        check_endpoint_url("https://api.vendor-cloud.example/v1")


# --- Uploads ------------------------------------------------------------------------------------------------------


def _draft(h):
    return services.request_create(by=h.requester, ai_system=h.system, title="t", intended_use="x")


def test_attachments_are_checked_and_never_stored_under_the_given_name(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    h = build_hospital()
    draft = _draft(h)
    evil = SimpleUploadedFile("../../../etc/cron.d/evil.pdf", b"%PDF-1.7 fine", content_type="application/pdf")
    attachment = services.request_attach(request=draft, by=h.requester, upload=evil, kind="model_card")
    stored = tmp_path / attachment.file.name
    assert stored.is_file() and stored.resolve().is_relative_to(tmp_path.resolve())
    assert ".." not in attachment.file.name and "/" not in attachment.original_name
    fake_pdf = SimpleUploadedFile("card.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    with pytest.raises(ServiceError, match="does not match"):
        services.request_attach(request=draft, by=h.requester, upload=fake_pdf, kind="model_card")
    script = SimpleUploadedFile("run.sh", b"#!/bin/sh\nrm -rf /", content_type="application/x-sh")
    with pytest.raises(ServiceError, match="PDF, Word, text or image"):
        services.request_attach(request=draft, by=h.requester, upload=script, kind="other")
    settings.MEDGOV_MAX_ATTACHMENT_BYTES = 100
    big = SimpleUploadedFile("big.txt", b"a" * 101, content_type="text/plain")
    with pytest.raises(ServiceError, match="larger than"):
        services.request_attach(request=draft, by=h.requester, upload=big, kind="other")
    assert draft.attachments.count() == 1


def test_benchmark_uploads_are_size_limited_and_text_only(client, settings):
    settings.MEDGOV_MAX_BENCHMARK_UPLOAD_BYTES = 1000
    client.force_login(UserFactory(username="importer", roles=["auditor"]))
    big = SimpleUploadedFile("big.jsonl", b"{}\n" * 400)
    response = client.post("/api/v1/benchmark-versions/import/", {"file": big, "suite": "s"})
    assert response.status_code == 400 and "larger than" in response.json()["detail"]
    binary = SimpleUploadedFile("x.jsonl", b"\x00\x01\x02binary")
    response = client.post("/api/v1/benchmark-versions/import/", {"file": binary, "suite": "s"})
    assert response.status_code == 400 and "binary" in response.json()["detail"]
    odd = SimpleUploadedFile("x.exe", b"{}")
    assert client.post("/api/v1/benchmark-versions/import/", {"file": odd, "suite": "s"}).status_code == 400


def test_the_event_log_refuses_updates_and_deletes_in_the_database():
    from django.db import IntegrityError, transaction

    from governance.models import Event

    build_hospital()
    event = Event.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(verb="forged")
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.filter(pk=event.pk).delete()
