"""Model endpoints that misbehave: every kind of garbage is stored as a clear per-item error, never a crash
and never a wrong score. A real HTTP server on loopback plays each misbehaviour."""

import asyncio
import json
import threading

import pytest
from aiohttp import web

from audits import services
from audits.models import Audit, ItemResult
from benchmark.tests.factories import make_version
from conftest import free_port

GOOD = {
    "choices": [{"message": {"role": "assistant", "content": "ANSWER: A"}, "finish_reason": "stop"}],
    "model": "hostile",
    "usage": {"prompt_tokens": 5, "completion_tokens": 2},
}


async def html_page(request):
    return web.Response(text="<html><body><h1>502 Bad Gateway</h1>nginx</body></html>", content_type="text/html")


async def not_json(request):
    return web.Response(text="internal error: upstream reset", content_type="application/json")


async def empty_choices(request):
    return web.json_response({"choices": [], "model": "hostile"})


async def huge_body(request):
    return web.json_response({"choices": [{"message": {"content": "A" * (3 * 1024 * 1024)}}]})


async def slow_drip(request):
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    body = json.dumps(GOOD).encode()
    for byte in body:
        await response.write(bytes([byte]))
        await asyncio.sleep(0.05)  # each read arrives in time, the whole answer does not
    return response


async def wrong_content_type(request):
    return web.Response(text=json.dumps(GOOD), content_type="text/plain")


async def content_not_text(request):
    return web.json_response({"choices": [{"message": {"content": {"unexpected": "object"}}}]})


async def models(request):
    return web.json_response({"data": [{"id": "hostile"}]})


MODES = {
    "html": (html_page, "an HTML page"),
    "notjson": (not_json, "non-JSON"),
    "empty": (empty_choices, "no choices"),
    "huge": (huge_body, "larger than"),
    "drip": (slow_drip, "no complete answer"),
    "ctype": (wrong_content_type, "not JSON"),
    "object": (content_not_text, "not text"),
}


@pytest.fixture(scope="module")
def hostile_server():
    app = web.Application()
    for mode, (handler, _expected) in MODES.items():
        app.router.add_post(f"/{mode}/v1/chat/completions", handler)
        app.router.add_get(f"/{mode}/v1/models", models)
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    ready = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", sorted(MODES))
def test_garbage_from_the_endpoint_is_a_clear_error_never_a_score(hostile_server, mode, settings):
    settings.AUDIT_CIRCUIT_BREAKER_FAILURES = 1000  # let every item reach its own verdict
    settings.AUDIT_MAX_RESPONSE_BYTES = 1024 * 1024
    version = make_version(suite=f"hostile-{mode}", count=6)
    endpoint, _ = services.endpoint_register(
        name=f"hostile-{mode}",
        base_url=f"{hostile_server}/{mode}/v1",
        model="hostile",
        max_retries=1,
        timeout_s=1.0,
        max_concurrency=6,
    )
    audit = services.audit_create(endpoint=endpoint, benchmark_version=version)
    services.audit_queue(audit=audit)
    audit = services.audit_run_in_process(audit=audit)
    expected = MODES[mode][1]
    assert audit.status == Audit.Status.FAILED
    assert expected in audit.failure_reason
    results = ItemResult.objects.filter(audit=audit)
    assert results.count() == 0  # the endpoint failed its first call: nothing was scored
    assert audit.summary["overall"]["n"] == 0 and audit.summary["overall"]["correct"] == 0


@pytest.mark.django_db(transaction=True)
def test_garbage_after_a_good_start_is_stored_per_item_as_error(hostile_server, settings, simulator_factory):
    """The probe succeeds (a good server), then the server turns hostile: items become errors, not wrongs."""
    from audits.models import ModelEndpoint

    settings.AUDIT_CIRCUIT_BREAKER_FAILURES = 1000
    version = make_version(suite="turns-hostile", count=8)
    endpoint, _ = services.endpoint_register(
        name="turns", base_url=simulator_factory(), model="m", max_retries=1, timeout_s=1.0
    )
    audit = services.audit_create(endpoint=endpoint, benchmark_version=version)
    services.audit_queue(audit=audit)
    services.audit_start(audit_id=audit.pk)
    ModelEndpoint.objects.filter(pk=endpoint.pk).update(base_url=f"{hostile_server}/html/v1")
    for chunk_id in audit.chunks.values_list("id", flat=True):
        services.audit_chunk_run(chunk_id=chunk_id)
    audit.refresh_from_db()
    results = ItemResult.objects.filter(audit=audit)
    assert results.count() == 8
    assert set(results.values_list("outcome", flat=True)) == {"error"}
    assert all("HTML page" in detail for detail in results.values_list("error_detail", flat=True))
    assert all(attempts == 2 for attempts in results.values_list("attempts", flat=True))  # one retry, then stop
    assert audit.status == Audit.Status.FAILED and "8 of 8 items failed" in audit.failure_reason
    assert audit.summary["overall"]["errors"] == 8 and audit.summary["overall"]["n"] == 0
