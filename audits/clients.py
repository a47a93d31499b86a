"""Talking to model endpoints. ``openai_chat`` (OpenAI-compatible chat completions) covers vLLM, Ollama,
LM Studio and hosted APIs; another kind is added by registering a ``ChatAdapter`` in ``ADAPTERS``.

Every failure becomes a ``CallError`` with a kind, a clear message and whether a retry may help;
the API key never appears in a message.
"""

import asyncio
import email.utils
import hashlib
import json
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx


@dataclass(frozen=True)
class EndpointConfig:
    """Everything a worker needs to call one endpoint; built from ``ModelEndpoint`` in sync code."""

    endpoint_id: int
    kind: str
    base_url: str
    model: str
    api_key: str = field(repr=False, default="")
    headers: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, object], ...] = ()
    timeout_s: float = 60.0
    max_retries: int = 4
    max_concurrency: int = 8
    requests_per_minute: int | None = None
    max_response_bytes: int = 2 * 1024 * 1024

    @property
    def limiter_key(self) -> str:
        return f"endpoint:{self.endpoint_id}"


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    tokens_in: int
    tokens_out: int
    latency_ms: float
    finish_reason: str = ""
    system_fingerprint: str = ""


class CallError(Exception):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    DNS = "dns"
    TLS = "tls"
    REFUSED = "refused"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    BAD_RESPONSE = "bad_response"

    RETRYABLE = {RATE_LIMITED, SERVER_ERROR, TIMEOUT, CONNECTION, REFUSED, BAD_RESPONSE}
    # Failures that no retry will fix and that will hit every item alike.
    FATAL = {AUTH, NOT_FOUND, DNS, TLS}

    def __init__(self, kind: str, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in self.RETRYABLE

    @property
    def fatal(self) -> bool:
        return self.kind in self.FATAL

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def _redact(text: str, config: EndpointConfig) -> str:
    if config.api_key and config.api_key in text:
        text = text.replace(config.api_key, "***")
    return text


def _snippet(body: bytes, config: EndpointConfig, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return _redact(text, config) + ("…" if len(body) > limit else "")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def classify_transport_error(exc: BaseException, config: EndpointConfig) -> CallError:
    """Turn an httpx/asyncio exception into a CallError with a reason a person can act on."""
    host = httpx.URL(config.base_url).host
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return CallError(CallError.TIMEOUT, f"no complete answer from {host} within {config.timeout_s:g} s")
    cause = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return CallError(CallError.TLS, f"TLS handshake with {host} failed ({cause.reason or cause})")
        if isinstance(cause, OSError) and getattr(cause, "errno", None) is not None:
            text = str(cause)
            if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
                return CallError(CallError.DNS, f"the host name {host} does not resolve")
            if isinstance(cause, ConnectionRefusedError) or "refused" in text.lower():
                return CallError(CallError.REFUSED, f"{host} refused the connection (is the server running?)")
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return CallError(CallError.DNS, f"the host name {host} does not resolve")
    if "refused" in text.lower():
        return CallError(CallError.REFUSED, f"{host} refused the connection (is the server running?)")
    if "SSL" in text or "certificate" in text.lower():
        return CallError(CallError.TLS, f"TLS handshake with {host} failed")
    return CallError(
        CallError.CONNECTION, f"connection to {host} failed ({type(exc).__name__}: {_redact(text, config)[:160]})"
    )


class ChatAdapter:
    kind = ""

    def request(self, config: EndpointConfig, messages: list[dict]) -> tuple[str, dict, dict]:
        raise NotImplementedError

    def parse(self, config: EndpointConfig, payload: dict, latency_ms: float) -> Completion:
        raise NotImplementedError


class OpenAIChatAdapter(ChatAdapter):
    kind = "openai_chat"

    def request(self, config: EndpointConfig, messages: list[dict]) -> tuple[str, dict, dict]:
        url = config.base_url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json", "Accept": "application/json", **dict(config.headers)}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        body = {"model": config.model, "messages": messages, **dict(config.params)}
        return url, headers, body

    def parse(self, config: EndpointConfig, payload: dict, latency_ms: float) -> Completion:
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if not isinstance(choices, list) or not choices:
            raise CallError(CallError.BAD_RESPONSE, "the response has no choices")
        first = choices[0] if isinstance(choices[0], dict) else {}
        message = first.get("message") or {}
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if content is not None and not isinstance(content, str):
            raise CallError(CallError.BAD_RESPONSE, "the message content is not text")
        usage = payload.get("usage") or {}
        return Completion(
            text=content or "",
            model=str(payload.get("model") or ""),
            tokens_in=_int(usage.get("prompt_tokens")),
            tokens_out=_int(usage.get("completion_tokens")),
            latency_ms=latency_ms,
            finish_reason=str(first.get("finish_reason") or ""),
            system_fingerprint=str(payload.get("system_fingerprint") or ""),
        )


def _int(value) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


ADAPTERS: dict[str, ChatAdapter] = {OpenAIChatAdapter.kind: OpenAIChatAdapter()}


async def chat(client: httpx.AsyncClient, config: EndpointConfig, messages: list[dict]) -> Completion:
    """One chat completion, bounded in time (whole exchange) and size; raises CallError."""
    adapter = ADAPTERS[config.kind]
    url, headers, body = adapter.request(config, messages)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(config.timeout_s):
            async with client.stream("POST", url, headers=headers, json=body) as response:
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > config.max_response_bytes:
                        raise CallError(
                            CallError.BAD_RESPONSE,
                            f"the response is larger than {config.max_response_bytes // 1024} KiB",
                            status=response.status_code,
                        )
                    chunks.append(chunk)
                raw = b"".join(chunks)
                status = response.status_code
                retry_after = _retry_after(response.headers.get("retry-after"))
                content_type = response.headers.get("content-type", "")
    except CallError:
        raise
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        raise classify_transport_error(exc, config) from None
    latency_ms = (time.perf_counter() - started) * 1000
    if status != 200:
        raise _status_error(status, raw, retry_after, config)
    if "json" not in content_type.lower():
        kind = "an HTML page" if b"<html" in raw[:500].lower() else f"content of type {content_type or 'unknown'}"
        raise CallError(
            CallError.BAD_RESPONSE, f"the server answered {kind}, not JSON: {_snippet(raw, config)}", status=200
        )
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        kind = "an HTML page" if b"<html" in raw[:500].lower() else f"non-JSON ({content_type or 'no content type'})"
        raise CallError(
            CallError.BAD_RESPONSE, f"the server answered {kind}: {_snippet(raw, config)}", status=200
        ) from None
    return adapter.parse(config, payload, latency_ms)


def _status_error(status: int, raw: bytes, retry_after: float | None, config: EndpointConfig) -> CallError:
    detail = _snippet(raw, config)
    if status == 429:
        return CallError(
            CallError.RATE_LIMITED, f"HTTP 429 rate limited: {detail}", status=status, retry_after=retry_after
        )
    if status in (401, 403):
        return CallError(CallError.AUTH, f"HTTP {status}: the server refused our credentials ({detail})", status=status)
    if status == 404:
        return CallError(
            CallError.NOT_FOUND, f"HTTP 404: model {config.model!r} or the path was not found ({detail})", status=status
        )
    if status in (408, 425):
        return CallError(CallError.TIMEOUT, f"HTTP {status}: {detail}", status=status)
    if status >= 500:
        return CallError(CallError.SERVER_ERROR, f"HTTP {status}: {detail}", status=status, retry_after=retry_after)
    return CallError(CallError.BAD_REQUEST, f"HTTP {status}: {detail}", status=status)


def fingerprint_of(config: EndpointConfig, reported_model: str, system_fingerprint: str = "") -> dict:
    """What identifies the model behind an endpoint; its hash changes when the model does."""
    document = {
        "base_url": config.base_url.rstrip("/"),
        "kind": config.kind,
        "model_requested": config.model,
        "model_reported": reported_model,
        "system_fingerprint": system_fingerprint,
        "parameters": dict(config.params),
    }
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
    return {**document, "hash": hashlib.sha256(encoded).hexdigest()}


PROBE_MESSAGES = [{"role": "user", "content": "Reply with the single word: ok"}]


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    latency_ms: float | None
    model_reported: str
    reason: str
    kind: str = ""
    fingerprint: dict | None = None

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "model_reported": self.model_reported,
            "reason": self.reason,
            "kind": self.kind,
        }


async def probe(config: EndpointConfig) -> ProbeResult:
    """Send one tiny request: latency, the model the server reports, or why it failed."""
    probe_config = EndpointConfig(
        **{**config.__dict__, "params": tuple({**dict(config.params), "max_tokens": 5}.items())}
    )
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s))
    ) as client:
        try:
            completion = await chat(client, probe_config, PROBE_MESSAGES)
        except CallError as error:
            return ProbeResult(False, None, "", error.message, error.kind)
    fingerprint = fingerprint_of(config, completion.model, completion.system_fingerprint)
    return ProbeResult(True, completion.latency_ms, completion.model, "ok", "", fingerprint)
