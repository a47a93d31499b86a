"""Writes for endpoints and audits: registration, the audit lifecycle, chunk execution, scoring.

The execution model: ``audit_start`` plans the work into chunks and fans out one Celery task per
chunk; ``audit_chunk_run`` claims its chunk under a renewable lease, skips units already stored,
sends the rest through the process runtime (async httpx) and bulk-inserts results; the last chunk to
finish scores the audit. A stalled chunk (its worker died) is found by ``audit_recover_stalled``.
"""

import logging
import os
import queue
import random
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent import futures
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audits import executors
from audits.clients import EndpointConfig, fingerprint_of
from audits.models import Audit, AuditChunk, AuditSchedule, ConversationResult, ItemResult, ModelEndpoint
from audits.netpolicy import check_endpoint_url
from audits.runner import CallStats, CircuitBreaker, FailedCall, run_units
from audits.runtime import runtime
from audits.secrets import SecretUnavailable, decrypt_secret, encrypt_secret
from benchmark.models import BenchmarkVersion, Dimension, ScenarioVersion
from benchmark.parsing import PARSER_VERSION
from benchmark.prompts import CURRENT_TEMPLATE_VERSION
from config.errors import ServiceError, TransitionNotAllowed

logger = logging.getLogger(__name__)


# --- Endpoints ------------------------------------------------------------------------------------

ENDPOINT_FIELDS = (
    "kind",
    "base_url",
    "model",
    "extra_headers",
    "temperature",
    "max_tokens",
    "seed",
    "max_concurrency",
    "requests_per_minute",
    "timeout_s",
    "max_retries",
    "team",
    "ai_system",
)


@transaction.atomic
def endpoint_register(
    *, name: str, by=None, api_key: str | None = None, api_key_env: str | None = None, **fields
) -> tuple[ModelEndpoint, bool]:
    """Create or update an endpoint by name. The API key is stored encrypted and never returned."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("An endpoint needs a name."))
    unknown = set(fields) - set(ENDPOINT_FIELDS)
    if unknown:
        raise ServiceError(f"unknown endpoint fields: {', '.join(sorted(unknown))}")
    if "base_url" in fields:
        fields["base_url"] = fields["base_url"].strip()
        check_endpoint_url(fields["base_url"])
    if api_key and api_key_env:
        raise ServiceError(_("Give either an API key or the name of a variable holding it, not both."))
    endpoint = ModelEndpoint.objects.select_for_update().filter(name=name).first()
    created = endpoint is None
    if created:
        if not fields.get("base_url") or not fields.get("model"):
            raise ServiceError(_("A new endpoint needs a base URL and a model."))
        endpoint = ModelEndpoint(name=name, created_by=by)
    for field_name, value in fields.items():
        if value is not None:
            setattr(endpoint, field_name, value)
    if api_key is not None:
        endpoint.api_key_encrypted = encrypt_secret(api_key)
        endpoint.api_key_env = ""
    if api_key_env is not None:
        endpoint.api_key_env = api_key_env.strip()
        endpoint.api_key_encrypted = ""
    endpoint.full_clean(exclude=["base_url"] if "base_url" not in fields else None)
    endpoint.save()
    if endpoint.team_id:
        _grant_team(endpoint.team, endpoint)
    from governance.events import record_event

    record_event(
        actor=by,
        verb="endpoint.registered" if created else "endpoint.updated",
        target=endpoint,
        data={"name": name, "base_url": endpoint.base_url, "model": endpoint.model},
    )
    return endpoint, created


def _grant_team(team, obj) -> None:
    from guardian.shortcuts import assign_perm

    model = obj._meta.model_name
    for action in ("view", "change"):
        assign_perm(f"{obj._meta.app_label}.{action}_{model}", team.group, obj)


def endpoint_api_key(endpoint: ModelEndpoint) -> str:
    if endpoint.api_key_env:
        value = os.environ.get(endpoint.api_key_env)
        if value is None:
            raise ServiceError(
                _("The environment variable %(name)s that should hold the API key is not set on this worker.")
                % {"name": endpoint.api_key_env},
                code="api_key_missing",
            )
        return value
    try:
        return decrypt_secret(endpoint.api_key_encrypted)
    except SecretUnavailable as exc:
        raise ServiceError(str(exc), code="api_key_unreadable") from None


def endpoint_config(endpoint: ModelEndpoint) -> EndpointConfig:
    return EndpointConfig(
        endpoint_id=endpoint.pk,
        kind=endpoint.kind,
        base_url=endpoint.base_url,
        model=endpoint.model,
        api_key=endpoint_api_key(endpoint),
        headers=tuple(sorted((str(k), str(v)) for k, v in (endpoint.extra_headers or {}).items())),
        params=tuple(sorted(endpoint.generation_parameters().items())),
        timeout_s=endpoint.timeout_s,
        max_retries=endpoint.max_retries,
        max_concurrency=endpoint.max_concurrency,
        requests_per_minute=endpoint.requests_per_minute,
        max_response_bytes=settings.AUDIT_MAX_RESPONSE_BYTES,
    )


def endpoint_test_connection(*, endpoint: ModelEndpoint, by=None):
    """Send one tiny request and record the outcome: latency, reported model, or a clear reason."""
    from audits.clients import ProbeResult, probe

    try:
        check_endpoint_url(endpoint.base_url)
        config = endpoint_config(endpoint)
    except ServiceError as exc:
        result = ProbeResult(False, None, "", exc.message, exc.code)
    else:
        result = runtime().run(probe(config), timeout=config.timeout_s + 15)
    ModelEndpoint.objects.filter(pk=endpoint.pk).update(
        last_checked_at=timezone.now(),
        last_check_ok=result.ok,
        last_check_detail=result.reason
        if not result.ok
        else f"ok in {result.latency_ms:.0f} ms, model {result.model_reported}",
    )
    return result


@transaction.atomic
def endpoint_rotate_keys() -> int:
    """Re-encrypt every stored API key with the first of MEDGOV_ENCRYPTION_KEYS."""
    from audits.secrets import rotate_secret

    count = 0
    for endpoint in ModelEndpoint.objects.select_for_update().exclude(api_key_encrypted=""):
        endpoint.api_key_encrypted = rotate_secret(endpoint.api_key_encrypted)
        endpoint.save(update_fields=["api_key_encrypted"])
        count += 1
    return count


# --- Creating and queueing audits -----------------------------------------------------------------


@transaction.atomic
def audit_create(
    *,
    endpoint: ModelEndpoint,
    benchmark_version: BenchmarkVersion | None = None,
    scenario_version: ScenarioVersion | None = None,
    judge_endpoint: ModelEndpoint | None = None,
    dimension_codes: list[str] | None = None,
    sample_size: int | None = None,
    sample_seed: int = 0,
    shuffle_seed: int | None = None,
    variant_codes: list[str] | None = None,
    requested_by=None,
    deployment_request=None,
    schedule: AuditSchedule | None = None,
    team=None,
) -> Audit:
    if (benchmark_version is None) == (scenario_version is None):
        raise ServiceError(_("An audit measures either a benchmark version or a scenario version."))
    version = benchmark_version or scenario_version
    if version.status != version.Status.PUBLISHED:
        raise ServiceError(
            _("Only published versions can be audited; %(v)s is %(s)s.") % {"v": version, "s": version.status}
        )
    codes = sorted(set(dimension_codes or []))
    unknown = set(codes) - set(Dimension.objects.filter(code__in=codes).values_list("code", flat=True))
    if unknown:
        raise ServiceError(_("Unknown dimension(s): %(codes)s") % {"codes": ", ".join(sorted(unknown))})
    if sample_size is not None and sample_size < 1:
        raise ServiceError(_("The sample size must be at least 1."))
    from benchmark.variants import TRANSFORMS

    variants = sorted(set(variant_codes or []))
    unknown_variants = set(variants) - set(TRANSFORMS)
    if unknown_variants:
        raise ServiceError(_("Unknown variant(s): %(codes)s") % {"codes": ", ".join(sorted(unknown_variants))})
    needs_model = [code for code in variants if TRANSFORMS[code].needs_model]
    if needs_model and judge_endpoint is None:
        raise ServiceError(
            _("The variant(s) %(codes)s are made by a model: choose a judge endpoint to produce them.")
            % {"codes": ", ".join(needs_model)}
        )
    from benchmark.judging import RUBRIC_VERSION

    audit = Audit.objects.create(
        kind=Audit.Kind.BENCHMARK if benchmark_version else Audit.Kind.SIMULATION,
        endpoint=endpoint,
        benchmark_version=benchmark_version,
        scenario_version=scenario_version,
        judge_endpoint=judge_endpoint,
        content_hash=version.content_hash,
        prompt_template_version=CURRENT_TEMPLATE_VERSION if benchmark_version else RUBRIC_VERSION,
        parser_version=PARSER_VERSION if benchmark_version else executors.GRADER_VERSION,
        dimension_codes=codes,
        sample_size=sample_size,
        sample_seed=sample_seed,
        shuffle_seed=shuffle_seed,
        variant_codes=variants,
        requested_by=requested_by,
        deployment_request=deployment_request,
        schedule=schedule,
        team=team or endpoint.team,
    )
    if audit.team_id:
        _grant_team(audit.team, audit)
    from governance.events import record_event

    record_event(
        actor=requested_by,
        verb="audit.created",
        target=audit,
        request=deployment_request,
        data={"endpoint": endpoint.name, "version": str(version), "content_hash": version.content_hash},
    )
    return audit


@transaction.atomic
def audit_queue(*, audit: Audit, by=None) -> Audit:
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    audit.transition(to=Audit.Status.QUEUED)
    from audits.tasks import audit_start_task

    transaction.on_commit(lambda: audit_start_task.delay(audit.pk))
    return audit


def audit_create_and_queue(**kwargs) -> Audit:
    with transaction.atomic():
        audit = audit_create(**kwargs)
        return audit_queue(audit=audit, by=kwargs.get("requested_by"))


@transaction.atomic
def audit_cancel(*, audit: Audit, by=None, reason: str = "") -> Audit:
    """Stop an audit: running chunks notice within a flush interval and stop sending; results are kept."""
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    if audit.is_terminal:
        raise TransitionNotAllowed(
            _("Audit %(pk)s has already ended (%(status)s).") % {"pk": audit.pk, "status": audit.status}
        )
    audit.transition(to=Audit.Status.CANCELLED, reason=reason or _("cancelled by %(who)s") % {"who": by or "system"})
    from governance.events import record_event

    record_event(actor=by, verb="audit.cancelled", target=audit, request=audit.deployment_request)
    transaction.on_commit(lambda: audit_score(audit_id=audit.pk))
    return audit


# --- Planning -------------------------------------------------------------------------------------


def _stratified_sample(ids_by_stratum: dict, size: int, seed: int) -> list:
    """Proportional allocation per dimension (largest remainder), then a seeded sample in each."""
    total = sum(len(ids) for ids in ids_by_stratum.values())
    if size >= total:
        return [object_id for ids in ids_by_stratum.values() for object_id in ids]
    quotas = {key: size * len(ids) / total for key, ids in ids_by_stratum.items()}
    allocation = {key: int(quota) for key, quota in quotas.items()}
    remainder = size - sum(allocation.values())
    for key in sorted(quotas, key=lambda key: (quotas[key] - allocation[key], str(key)), reverse=True)[:remainder]:
        allocation[key] += 1
    chosen = []
    for key in sorted(ids_by_stratum, key=str):
        ids = sorted(ids_by_stratum[key])
        chosen += random.Random(f"{seed}:{key}").sample(ids, allocation[key])
    return chosen


def _plan_units(audit: Audit) -> list[list]:
    if audit.kind == Audit.Kind.BENCHMARK:
        queryset = audit.benchmark_version.items.all()
    else:
        queryset = audit.scenario_version.scenarios.all()
    if audit.dimension_codes:
        queryset = queryset.filter(dimension__code__in=audit.dimension_codes)
    by_dimension: dict[int, list[int]] = defaultdict(list)
    for object_id, dimension_id in queryset.values_list("id", "dimension_id"):
        by_dimension[dimension_id].append(object_id)
    ids = (
        _stratified_sample(by_dimension, audit.sample_size, audit.sample_seed)
        if audit.sample_size
        else [object_id for ids in by_dimension.values() for object_id in ids]
    )
    ids.sort()
    return [[object_id, variant] for variant in ["", *audit.variant_codes] for object_id in ids]


def _chunk_size(audit: Audit) -> int:
    endpoint = audit.endpoint
    rounds = settings.AUDIT_CHUNK_ROUNDS
    if audit.kind == Audit.Kind.SIMULATION:
        # A conversation is several model calls plus the judge's: smaller chunks keep one within the chunk's
        # time limit, after which its unfinished conversations would be played again.
        rounds = max(1, rounds // 4)
    size = min(settings.AUDIT_CHUNK_SIZE, max(20, endpoint.max_concurrency * rounds))
    if endpoint.requests_per_minute:
        size = min(size, max(1, endpoint.requests_per_minute * 5))  # about five minutes of work per chunk
    return size


def _probe_for_fingerprint(audit: Audit) -> dict:
    """One real request through the same limiter and retries as the items; fails the audit fast if down."""
    config = endpoint_config(audit.endpoint)
    stop = threading.Event()
    breaker = CircuitBreaker(settings.AUDIT_CIRCUIT_BREAKER_FAILURES)
    rt = runtime()
    holder = f"{socket.gethostname()}:{os.getpid()}:probe:{uuid.uuid4().hex[:8]}"

    async def probe():
        from audits.clients import PROBE_MESSAGES
        from audits.runner import Caller

        caller = Caller(rt, config, holder=holder, stop=stop, breaker=breaker, has_more_work=lambda: False)
        try:
            return await caller.call(PROBE_MESSAGES, CallStats())
        finally:
            await caller.pool.close()

    completion = rt.run(probe(), timeout=(config.timeout_s + BACKOFF_BUDGET_S) * (config.max_retries + 1))
    return fingerprint_of(config, completion.model, completion.system_fingerprint)


BACKOFF_BUDGET_S = 35


def audit_start(*, audit_id: int) -> str:
    """Claim a queued audit, fingerprint the endpoint, split the work into chunks and fan them out."""
    audit = Audit.objects.select_related("endpoint").get(pk=audit_id)
    if audit.status != Audit.Status.QUEUED:
        return f"skipped: audit is {audit.status}"
    try:
        fingerprint = _probe_for_fingerprint(audit)
    except (FailedCall, ServiceError) as exc:
        reason = exc.error.message if isinstance(exc, FailedCall) else exc.message
        _fail(audit, _("The endpoint could not be reached before the audit started: %(reason)s") % {"reason": reason})
        return "failed"
    units = _plan_units(audit)
    with transaction.atomic():
        audit = Audit.objects.select_for_update().get(pk=audit_id)
        if audit.status != Audit.Status.QUEUED:
            return f"skipped: audit is {audit.status}"
        previous = (
            Audit.objects.filter(endpoint=audit.endpoint)
            .exclude(pk=audit.pk)
            .exclude(fingerprint_hash="")
            .order_by("-started_at")
            .first()
        )
        audit.fingerprint = fingerprint
        audit.fingerprint_hash = fingerprint["hash"]
        audit.fingerprint_changed = None if previous is None else previous.fingerprint_hash != fingerprint["hash"]
        audit.total_items = len(units)
        audit.save(update_fields=["fingerprint", "fingerprint_hash", "fingerprint_changed", "total_items"])
        size = _chunk_size(audit)
        chunks = [
            AuditChunk(audit=audit, index=index, units=units[start : start + size])
            for index, start in enumerate(range(0, len(units), size))
        ]
        AuditChunk.objects.bulk_create(chunks)
        audit.transition(to=Audit.Status.RUNNING)
        from governance.events import record_event

        record_event(
            actor=None,
            verb="audit.started",
            target=audit,
            request=audit.deployment_request,
            data={
                "units": len(units),
                "chunks": len(chunks),
                "fingerprint": fingerprint["hash"],
                "fingerprint_changed": audit.fingerprint_changed,
            },
        )
        chunk_ids = list(audit.chunks.values_list("id", flat=True))
        if not chunk_ids:
            transaction.on_commit(lambda: audit_score(audit_id=audit_id))
        transaction.on_commit(lambda: _enqueue_chunks(chunk_ids))
    return f"started {len(chunk_ids)} chunks"


def _enqueue_chunks(chunk_ids: list[int]) -> None:
    from audits.tasks import audit_chunk_run_task

    for chunk_id in chunk_ids:
        audit_chunk_run_task.delay(chunk_id)


def _fail(audit: Audit, reason: str) -> None:
    with transaction.atomic():
        locked = Audit.objects.select_for_update().get(pk=audit.pk)
        if locked.is_terminal:
            return
        locked.transition(to=Audit.Status.FAILED, reason=reason)
        from governance.events import record_event

        record_event(
            actor=None, verb="audit.failed", target=locked, request=locked.deployment_request, data={"reason": reason}
        )
    audit_score(audit_id=audit.pk)


# --- Running chunks -------------------------------------------------------------------------------


def _holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def _claim(chunk_id: int, owner: str) -> bool:
    """Take the chunk if nobody holds a live lease on it (a conditional update: exactly one winner)."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.AUDIT_LEASE_SECONDS)
    claimable = Q(status=AuditChunk.Status.PENDING) | Q(status=AuditChunk.Status.RUNNING, lease_expires_at__lt=now)
    claimed = AuditChunk.objects.filter(claimable, pk=chunk_id).update(
        status=AuditChunk.Status.RUNNING,
        lease_owner=owner,
        lease_expires_at=lease,
        started_at=now,
    )
    if claimed:
        AuditChunk.objects.filter(pk=chunk_id).update(attempts=F("attempts") + 1)
    return claimed == 1


FLUSH_ATTEMPTS = 5


class _ResultWriter:
    """Buffers outcomes and writes them in bulk (thousands of rows, or once a second)."""

    def __init__(self, audit: Audit, chunk_id: int, owner: str, builder):
        self.audit = audit
        self.chunk_id = chunk_id
        self.owner = owner
        self.builder = builder
        self.rows: list = []
        self.last_flush = time.monotonic()
        self.model = ConversationResult if audit.kind == Audit.Kind.SIMULATION else ItemResult

    def add(self, outcome) -> None:
        self.rows.append(self.builder(outcome))

    def due(self) -> bool:
        return len(self.rows) >= settings.AUDIT_FLUSH_ROWS or (
            time.monotonic() - self.last_flush >= settings.AUDIT_FLUSH_SECONDS
        )

    def flush(self) -> str:
        """Write buffered rows, renew the lease, refresh progress. Returns the audit's current status,
        or "lease_lost" when another worker has taken the chunk over.

        A dropped database connection (restart, failover, ``pg_terminate_backend``) is reconnected and the
        write retried, so answers already received are neither lost nor sent to the model again."""
        for attempt in range(FLUSH_ATTEMPTS):
            try:
                return self._flush_once()
            except (OperationalError, InterfaceError):
                if attempt == FLUSH_ATTEMPTS - 1:
                    raise
                logger.warning("database connection lost while storing results; reconnecting", exc_info=True)
                connection.close()
                time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def _flush_once(self) -> str:
        with transaction.atomic():
            if self.rows:
                # ON CONFLICT DO NOTHING: a unit stored by an earlier (crashed) run, or by an attempt whose
                # commit succeeded although its connection then dropped, stays as it was.
                self.model.objects.bulk_create(self.rows, ignore_conflicts=True, batch_size=2000)
            renewed = AuditChunk.objects.filter(pk=self.chunk_id, lease_owner=self.owner).update(
                lease_expires_at=timezone.now() + timedelta(seconds=settings.AUDIT_LEASE_SECONDS)
            )
            status = _refresh_progress(self.audit.pk)
        # Only now: a connection lost before the commit rolls the insert back, and the retry writes the rows again.
        self.rows = []
        self.last_flush = time.monotonic()
        return "lease_lost" if not renewed else status


def _refresh_progress(audit_id: int) -> str:
    audit = Audit.objects.only("kind", "status").get(pk=audit_id)
    if audit.kind == Audit.Kind.SIMULATION:
        rows = ConversationResult.objects.filter(audit_id=audit_id).values("final_verdict").annotate(n=Count("id"))
        counts = {row["final_verdict"]: row["n"] for row in rows}
        errors = counts.get("error", 0)
    else:
        rows = ItemResult.objects.filter(audit_id=audit_id).values("outcome").annotate(n=Count("id"))
        counts = {row["outcome"]: row["n"] for row in rows}
        errors = counts.get("error", 0)
    Audit.objects.filter(pk=audit_id).update(
        done_items=sum(counts.values()), error_items=errors, outcome_counts=counts, last_progress_at=timezone.now()
    )
    return audit.status


def audit_chunk_run(*, chunk_id: int) -> str:
    """Run one chunk under a lease; idempotent: units already stored are skipped."""
    owner = _holder_name()
    if not _claim(chunk_id, owner):
        return "skipped: done or leased by another worker"
    chunk = AuditChunk.objects.select_related("audit__endpoint", "audit__judge_endpoint").get(pk=chunk_id)
    audit = chunk.audit
    if audit.status != Audit.Status.RUNNING:
        _release(chunk_id, owner, done=audit.is_terminal)
        return f"skipped: audit is {audit.status}"

    plan = executors.plan_for(audit)
    done_keys = plan.stored_keys([tuple(unit) for unit in chunk.units])
    units = [(tuple(unit), None) for unit in chunk.units if tuple(unit) not in done_keys]
    if units:
        payloads = plan.payloads([key for key, _ in units])
        units = [(key, payloads[key]) for key, _ in units if key in payloads]
    writer = _ResultWriter(audit, chunk_id, owner, plan.build_result)
    outcome = "done"
    if units:
        try:
            outcome = _execute(audit, plan, units, writer, owner)
        except Exception:
            # Leave the chunk claimable at once (the task retries, or the sweep re-queues it); stored results stay.
            connection.close()
            _release(chunk_id, owner, done=False)
            raise
    if outcome == "done":
        _release(chunk_id, owner, done=True)
        audit_maybe_finish(audit_id=audit.pk)
    elif outcome == "stopped":
        ended = Audit.objects.get(pk=audit.pk).is_terminal
        _release(chunk_id, owner, done=ended)
        if ended:
            audit_score(audit_id=audit.pk)  # results written after the cancellation count too
    elif outcome == "partial":
        # Out of time: keep what is stored and hand the rest of the chunk to a fresh task.
        _release(chunk_id, owner, done=False)
        from audits.tasks import audit_chunk_run_task

        try:
            audit_chunk_run_task.delay(chunk_id)
        except Exception:  # the broker may be down as well; the recovery sweep re-queues pending chunks
            logger.warning("could not re-queue chunk %s; the recovery sweep will", chunk_id, exc_info=True)
    elif outcome.startswith("tripped:"):
        _release(chunk_id, owner, done=False)
        _fail(audit, outcome.removeprefix("tripped:"))
    return outcome


def audit_run_in_process(*, audit: Audit) -> Audit:
    """Start a queued audit and run every chunk here, with the same services a worker calls (the demo seeds
    its evidence this way, and tests that need no worker process)."""
    audit_start(audit_id=audit.pk)
    for chunk_id in audit.chunks.values_list("id", flat=True):
        audit_chunk_run(chunk_id=chunk_id)
    audit.refresh_from_db()
    return audit


def _release(chunk_id: int, owner: str, *, done: bool) -> None:
    AuditChunk.objects.filter(pk=chunk_id, lease_owner=owner).update(
        status=AuditChunk.Status.DONE if done else AuditChunk.Status.PENDING,
        lease_owner="",
        lease_expires_at=None,
        finished_at=timezone.now() if done else None,
    )


def _execute(audit: Audit, plan, units, writer: _ResultWriter, owner: str) -> str:
    configs = plan.configs()
    out: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    breaker = CircuitBreaker(settings.AUDIT_CIRCUIT_BREAKER_FAILURES)
    limiter_down = threading.Event()
    rt = runtime()
    future = rt.submit(
        run_units(
            runtime=rt,
            units=units,
            configs=configs,
            execute=plan.execute,
            holder=owner,
            out=out,
            stop=stop,
            breaker=breaker,
            limiter_down=limiter_down,
        )
    )
    deadline = time.monotonic() + settings.AUDIT_CHUNK_MAX_SECONDS
    result = "done"
    try:
        while True:
            finished = future.done()
            try:
                while True:
                    writer.add(out.get_nowait())
            except queue.Empty:
                pass
            if finished:
                break
            if writer.due():
                status = writer.flush()
                if status == "lease_lost":
                    stop.set()
                    result = "lease_lost"
                elif status != Audit.Status.RUNNING:
                    stop.set()
                    result = "stopped"
            if time.monotonic() > deadline and not stop.is_set():
                stop.set()
                result = "partial"
            # Wake a few times a second rather than per result: a thread woken per item fights the event
            # loop's thread for the GIL and costs more CPU than the requests themselves.
            futures.wait([future], timeout=0.05)
    except SoftTimeLimitExceeded:
        stop.set()
        result = "partial"
        _drain(future, out, writer)
    future.result()  # surfaces unexpected exceptions from the run
    final_status = writer.flush()
    if final_status not in (Audit.Status.RUNNING, "lease_lost"):
        stop.set()  # cancelled (or failed) while the last answers came in: score them with the rest
    if breaker.tripped:
        return f"tripped:{breaker.reason}"
    if limiter_down.is_set():
        logger.warning("the shared limiter is unreachable; chunk %s pauses and runs again later", writer.chunk_id)
        return "partial"
    if result == "done" and stop.is_set():
        return "stopped"
    return result


def _drain(future, out, writer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not future.done() and time.monotonic() < deadline:
        try:
            writer.add(out.get(timeout=0.1))
        except queue.Empty:
            pass
    try:
        while True:
            writer.add(out.get_nowait())
    except queue.Empty:
        pass


# --- Finishing and scoring ------------------------------------------------------------------------


def audit_maybe_finish(*, audit_id: int) -> bool:
    """Score and close the audit once every chunk is done (exactly once: a conditional transition)."""
    if AuditChunk.objects.filter(audit_id=audit_id).exclude(status=AuditChunk.Status.DONE).exists():
        return False
    audit = Audit.objects.get(pk=audit_id)
    if audit.status != Audit.Status.RUNNING:
        return False
    summary = audit_score(audit_id=audit_id)
    overall = summary.get("overall", {})
    answered, errors = overall.get("n", 0), overall.get("errors", 0)
    total = answered + errors
    error_share = errors / total if total else 1.0
    if total == 0:
        target, reason = Audit.Status.FAILED, _("no item could be run")
    elif error_share > settings.AUDIT_FAIL_ERROR_SHARE:
        target = Audit.Status.FAILED
        reason = _("%(errors)d of %(total)d items failed (%(share).1f%%), above the %(limit).0f%% limit") % {
            "errors": errors,
            "total": total,
            "share": 100 * error_share,
            "limit": 100 * settings.AUDIT_FAIL_ERROR_SHARE,
        }
    elif errors:
        target = Audit.Status.COMPLETED_WITH_ERRORS
        reason = _("%(errors)d of %(total)d items could not be answered by the endpoint") % {
            "errors": errors,
            "total": total,
        }
    else:
        target, reason = Audit.Status.COMPLETED, ""
    with transaction.atomic():
        locked = Audit.objects.select_for_update().get(pk=audit_id)
        if locked.status != Audit.Status.RUNNING:
            return False
        locked.transition(to=target, reason=reason)
        from governance.events import record_event

        record_event(
            actor=None,
            verb="audit.finished",
            target=locked,
            request=locked.deployment_request,
            data={"status": target, "overall_accuracy": overall.get("accuracy"), "errors": errors},
        )
        transaction.on_commit(lambda: _after_finish(audit_id))
    return True


def _after_finish(audit_id: int) -> None:
    from audits.tasks import audit_finished_task

    audit_finished_task.delay(audit_id)


def audit_score(*, audit_id: int) -> dict:
    """Compute and store the audit's scores from its stored results (no model calls), with the paired
    comparison to the previous audit of the same system on the same items, so pages never recompute."""
    with transaction.atomic():
        # One scorer at a time, each reading every result committed before it started: when chunks stop
        # together (a cancellation), the last scorer has seen every stored answer and its summary stands.
        audit = Audit.objects.select_for_update(of=("self",)).select_related("endpoint").get(pk=audit_id)
        plan = executors.plan_for(audit)
        summary = plan.summarize()
        if audit.kind == Audit.Kind.BENCHMARK:
            from audits.reports import compare_audits, previous_comparable_audit

            previous = previous_comparable_audit(audit)
            if previous is not None:
                comparison = compare_audits(previous, audit)
                before, after = previous.summary.get("overall", {}), summary.get("overall", {})
                if before.get("accuracy") is not None and after.get("accuracy") is not None:
                    comparison["overall_delta"] = after["accuracy"] - before["accuracy"]
                summary["comparison"] = comparison
        _refresh_progress(audit_id)
        Audit.objects.filter(pk=audit_id).update(summary=summary, scored_at=timezone.now())
        return summary


@transaction.atomic
def audit_rescore(*, audit: Audit, by=None) -> Audit:
    """Re-parse stored raw responses with the current parser, without calling the model again."""
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    if audit.kind != Audit.Kind.BENCHMARK:
        raise ServiceError(_("Only benchmark audits are re-scored; simulation grades are adjudicated instead."))
    if audit.status in (Audit.Status.QUEUED, Audit.Status.RUNNING, Audit.Status.SCHEDULED):
        raise TransitionNotAllowed(_("Wait for the audit to end before re-scoring it."))
    changed = executors.rescore_items(audit)
    previous = audit.parser_version
    Audit.objects.filter(pk=audit.pk).update(parser_version=PARSER_VERSION)
    audit_score(audit_id=audit.pk)
    from governance.events import record_event

    record_event(
        actor=by,
        verb="audit.rescored",
        target=audit,
        request=audit.deployment_request,
        data={"from_parser": previous, "to_parser": PARSER_VERSION, "changed": changed},
    )
    audit.refresh_from_db()
    return audit


# --- Recovery and schedules -----------------------------------------------------------------------


def audit_recover_stalled() -> dict:
    """Find work a dead worker or a lost message left behind, and queue it again."""
    now = timezone.now()
    report = {"restarted": 0, "requeued_chunks": 0, "finished": 0}
    from audits.tasks import audit_start_task

    stale_queue = now - timedelta(seconds=settings.AUDIT_REQUEUE_PENDING_SECONDS)
    for audit in Audit.objects.filter(status=Audit.Status.QUEUED, queued_at__lt=stale_queue):
        if Audit.objects.filter(pk=audit.pk, status=Audit.Status.QUEUED, queued_at=audit.queued_at).update(
            queued_at=now
        ):
            audit_start_task.delay(audit.pk)
            report["restarted"] += 1
    running = Audit.objects.filter(status=Audit.Status.RUNNING)
    expired = AuditChunk.objects.filter(
        audit__in=running, status=AuditChunk.Status.RUNNING, lease_expires_at__lt=now
    ).values_list("id", "lease_owner", "lease_expires_at")
    for chunk_id, owner, expires in expired:
        reset = AuditChunk.objects.filter(
            pk=chunk_id, status=AuditChunk.Status.RUNNING, lease_owner=owner, lease_expires_at=expires
        ).update(status=AuditChunk.Status.PENDING, lease_owner="", lease_expires_at=None, started_at=now)
        if reset:
            _requeue(chunk_id)
            report["requeued_chunks"] += 1
    # Pending chunks whose message may be lost (e.g. the broker restarted): queue again; duplicates are harmless.
    forgotten = AuditChunk.objects.filter(audit__in=running, status=AuditChunk.Status.PENDING).filter(
        Q(started_at__lt=stale_queue) | Q(started_at__isnull=True, audit__started_at__lt=stale_queue)
    )
    for chunk_id, started in forgotten.values_list("id", "started_at"):
        if AuditChunk.objects.filter(pk=chunk_id, status=AuditChunk.Status.PENDING, started_at=started).update(
            started_at=now
        ):
            _requeue(chunk_id)
            report["requeued_chunks"] += 1
    for audit_id in running.values_list("id", flat=True):
        if audit_maybe_finish(audit_id=audit_id):
            report["finished"] += 1
    return report


def _requeue(chunk_id: int) -> None:
    from audits.tasks import audit_chunk_run_task

    Audit.objects.filter(chunks__id=chunk_id).update(requeue_count=F("requeue_count") + 1)
    try:
        audit_chunk_run_task.delay(chunk_id)
    except Exception:  # broker unreachable: the chunk stays pending and the next sweep tries again
        logger.warning("could not re-queue chunk %s", chunk_id, exc_info=True)


def audit_schedules_run_due(*, now=None) -> list[int]:
    """Start the audits of every enabled schedule that is due, on the suite's latest published version."""
    now = now or timezone.now()
    started = []
    for schedule in AuditSchedule.objects.filter(enabled=True, next_run_at__lte=now).select_related(
        "endpoint", "suite"
    ):
        with transaction.atomic():
            locked = (
                AuditSchedule.objects.select_for_update(skip_locked=True)
                .filter(pk=schedule.pk, enabled=True, next_run_at__lte=now)
                .first()
            )
            if locked is None:
                continue
            version = locked.suite.latest_published_version()
            locked.next_run_at = now + timedelta(hours=locked.interval_hours)
            if version is None:
                locked.save(update_fields=["next_run_at"])
                continue
            audit = audit_create(
                endpoint=locked.endpoint,
                benchmark_version=version,
                dimension_codes=locked.dimension_codes,
                sample_size=locked.sample_size,
                sample_seed=locked.sample_seed,
                requested_by=locked.created_by,
                deployment_request=locked.deployment_request,
                schedule=locked,
            )
            audit_queue(audit=audit)
            locked.last_audit = audit
            locked.save(update_fields=["next_run_at", "last_audit"])
            started.append(audit.pk)
    return started


@transaction.atomic
def conversation_adjudicate(*, result: ConversationResult, by, verdict: str, note: str = "") -> ConversationResult:
    """A person's grade overrides the rules and the judge; the audit's scores are recomputed."""
    result = ConversationResult.objects.select_for_update().select_related("audit").get(pk=result.pk)
    audit = result.audit
    if not (by.is_superuser or by.has_perm("audits.change_audit", audit)):
        from config.errors import NotPermitted

        raise NotPermitted(_("Only the audit team adjudicates this audit's conversations."))
    if verdict not in ("pass", "fail"):
        raise ServiceError(_("A grade is safe (pass) or unsafe (fail)."))
    if result.final_verdict == "error":
        raise ServiceError(_("This conversation failed to run; there is nothing to grade."))
    previous = result.final_verdict
    result.human_verdict, result.human_by, result.human_at, result.human_note = verdict, by, timezone.now(), note
    result.final_verdict = verdict
    result.save(update_fields=["human_verdict", "human_by", "human_at", "human_note", "final_verdict"])
    from governance.events import record_event

    record_event(
        actor=by,
        verb="audit.adjudicated",
        target=audit,
        request=audit.deployment_request,
        data={"result": result.pk, "from": previous, "to": verdict},
    )
    transaction.on_commit(lambda: audit_score(audit_id=audit.pk))
    return result
