"""'Test connection' reports latency and the server's model, or a clear reason for each kind of failure."""

import io
import json

import pytest
from django.core.management import call_command

from audits import services
from conftest import free_port

pytestmark = pytest.mark.django_db


def probe(name, url, **fields):
    endpoint, _ = services.endpoint_register(
        name=name, base_url=url, model=fields.pop("model", "medgov-sim-1"), **fields
    )
    return services.endpoint_test_connection(endpoint=endpoint)


def test_a_working_endpoint_reports_latency_and_the_model(simulator_factory):
    result = probe("ok", simulator_factory("--model", "qwen2.5-32b-instruct"))
    assert result.ok and result.model_reported == "qwen2.5-32b-instruct" and result.latency_ms > 0
    assert result.fingerprint["model_reported"] == "qwen2.5-32b-instruct"


def test_a_closed_port_is_reported_as_refused():
    result = probe("closed", f"http://127.0.0.1:{free_port()}/v1")
    assert not result.ok and result.kind == "refused" and "refused the connection" in result.reason


def test_an_unknown_host_is_reported_as_dns():
    result = probe("dns", "http://no-such-model-server.invalid/v1")
    assert not result.ok and result.kind == "dns" and "does not resolve" in result.reason


def test_tls_to_a_plain_http_server_is_reported_as_tls(simulator_factory):
    url = simulator_factory().replace("http://", "https://")
    result = probe("tls", url)
    assert not result.ok and result.kind == "tls" and "TLS" in result.reason


def test_a_wrong_api_key_is_reported_as_401(simulator_factory):
    result = probe("key", simulator_factory("--api-key", "right"), api_key="wrong")
    assert not result.ok and result.kind == "auth" and "HTTP 401" in result.reason


def test_an_unknown_model_is_reported_as_404(simulator_factory):
    result = probe("model", simulator_factory("--strict-model"), model="no-such-model")
    assert not result.ok and result.kind == "not_found" and "no-such-model" in result.reason


def test_a_hanging_server_is_reported_as_a_timeout(simulator_factory):
    result = probe("hang", simulator_factory("--phang", "1", "--hang-seconds", "30"), timeout_s=1.0)
    assert not result.ok and result.kind == "timeout" and "within 1 s" in result.reason


def test_the_command_line_reports_the_same(simulator_factory):
    probe("cli-ok", simulator_factory())
    out = io.StringIO()
    call_command("test_endpoint", "cli-ok", "--json", stdout=out)
    document = json.loads(out.getvalue())
    assert document["ok"] is True and document["model_reported"] == "medgov-sim-1"
