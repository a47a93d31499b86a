#!/usr/bin/env python
"""Load-test the whole site with simulated people while a real 12,000-item audit runs.

Seeds the database when needed (``bench_data.seed``: 50 completed 12,000-item audits; reused when already
there), then starts, each in its own process group and all stopped at the end (also on errors and Ctrl-C):

* gunicorn ``config.wsgi:application --workers 3 --threads 4`` on a free loopback port;
* the model simulator ``manage.py simulate_llm --latency 0.05``;
* one Celery worker ``celery -A config worker --concurrency 2``;

and drives the site with ``--users`` (default 50) simulated people of mixed roles: requesters, auditors, IRB
members and compliance administrators. Each signs in through the real form (GET, then POST
``/accounts/login/`` with the CSRF token; correct passwords, so django-axes never locks anyone out), the
sign-ins spread over ``--ramp`` seconds (default 10). Once all are signed in, a real audit of the 12,000-item
version is queued against the simulator and everyone browses for ``--duration`` seconds (default 60), looping
over the pages of their role (home, request list and detail, evidence, audit list and page, the running
audit's progress JSON, results, dashboard, review queue, benchmark item browser, and API lists with a token)
with think times of ``--think-min``..``--think-max`` seconds.

Prints requests, errors (any status ≥ 400, a redirect to the login page, or an exception), p50 / p95 / p99 per
page type and overall (sign-ins apart: a password check costs ~0.3 s of CPU by design, so they are
reported on their own), throughput, CPU per process while browsing, the audit's done/total over the run
and whether it kept progressing, and PASS/FAIL against the targets (page p95 < 300 ms, no errors). The live
audit is deleted at the end unless ``--keep-audit``. ``--py-spy DIR`` records a flame profile (collapsed
stacks) of the gunicorn workers and the Celery worker while browsing (``.venv/bin/pip install py-spy``).

Run with ``make load`` or ``.venv/bin/python scripts/load_test.py [--users 50] [--duration 60]``; DATABASE_URL
names the database (default medgov_bench), REDIS_URL the broker. Exit status 1 when a target is missed.
"""

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data import LIVE_ENDPOINT, ROOT, setup_django

TARGET_P95_MS = 300.0
ROLE_MIX = {"requester": 0.3, "auditor": 0.24, "irb": 0.26, "compliance": 0.2}
# page type → weight, per role
ROLE_PAGES = {
    "requester": {
        "home": 2,
        "request list": 2,
        "request detail": 3,
        "evidence": 2,
        "audit list": 1,
        "audit page": 1,
        "api requests": 1,
    },
    "auditor": {
        "home": 1,
        "audit list": 2,
        "audit page": 2,
        "progress json": 4,
        "results": 1,
        "item browser": 1,
        "api audits": 1,
        "api items": 1,
    },
    "irb": {
        "home": 1,
        "review queue": 1,
        "request list": 1,
        "request detail": 2,
        "evidence": 3,
        "audit page": 1,
        "api requests": 1,
    },
    "compliance": {
        "home": 1,
        "dashboard": 3,
        "request list": 1,
        "request detail": 1,
        "evidence": 1,
        "audit list": 1,
        "api systems": 1,
    },
}
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# --- Child processes ------------------------------------------------------------------------------


class Child:
    """A child process in its own process group; ``stop`` ends it and anything it started."""

    def __init__(self, name: str, args: list[str], log_dir: Path, env: dict | None = None):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = self.log_path.open("w")
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=child_env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, tail: int = 3000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-tail:]

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(5)
        self._signal_group(signal.SIGKILL)  # grandchildren left in the group (pool processes, gunicorn workers)
        self.log.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, what: str, child: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{what}: the process exited at start:\n{child.output()}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not ready within {timeout:.0f} s:\n{child.output()}")


def listening(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


def http_ok(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def venv_tool(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    return str(path) if path.exists() else name


def start_gunicorn(port: int, log_dir: Path) -> Child:
    args = [venv_tool("gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    args += ["--workers", "3", "--threads", "4", "--access-logfile", "-"]
    child = Child("gunicorn", args, log_dir)
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), "gunicorn", child)
    return child


def start_simulator(port: int, latency: float, log_dir: Path) -> Child:
    args = [sys.executable, "manage.py", "simulate_llm", "--port", str(port), "--latency", str(latency)]
    child = Child("simulator", args, log_dir)
    wait_until(lambda: listening(port), "simulator", child)
    return child


def start_worker(log_dir: Path) -> Child:
    hostname = f"load-{os.getpid()}@{socket.gethostname()}"
    args = [venv_tool("celery"), "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"]
    args += ["-O", "fair", "--without-gossip", "--without-mingle", "--hostname", hostname]
    child = Child("worker", args, log_dir)
    wait_until(lambda: "ready." in child.output(100_000), "celery worker", child)
    return child


class PySpy:
    """``py-spy record`` of the gunicorn master and its workers while the load runs."""

    def __init__(self, out_dir: Path | None):
        self.out_dir = out_dir
        self.running: list[subprocess.Popen] = []
        self.binary = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        if out_dir is not None and self.binary is None:
            raise SystemExit("--py-spy needs py-spy: .venv/bin/pip install py-spy")

    def start(self, name: str, pid: int) -> None:
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # collapsed stacks (one line per stack with its sample count); ~20 Hz keeps py-spy's own CPU small
        args = [self.binary, "record", "--pid", str(pid), "--subprocesses", "--rate", "20", "--nonblocking"]
        args += ["--format", "raw", "--output", str(self.out_dir / f"{name}.txt")]
        self.running.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        for process in self.running:
            process.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        for process in self.running:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.running = []


# --- The live audit -------------------------------------------------------------------------------


def live_endpoint(simulator_url: str):
    from audits import services
    from governance.models import AuditTeam

    endpoint, _created = services.endpoint_register(
        name=LIVE_ENDPOINT,
        base_url=simulator_url,
        model="medgov-sim-1",
        max_concurrency=16,
        timeout_s=30,
        team=AuditTeam.objects.get(name="LLM audit team"),
    )
    return endpoint


def clear_leftovers() -> None:
    """End audits an interrupted earlier run left on the live endpoint, and forget its limiter leases."""
    from audits import services
    from audits.models import Audit

    for audit in Audit.objects.filter(endpoint__name=LIVE_ENDPOINT, status__in=[Audit.Status.QUEUED, "running"]):
        services.audit_cancel(audit=audit, reason="left over by an interrupted load test")


def clear_limiter(endpoint_id: int) -> None:
    from django.conf import settings

    if not settings.REDIS_URL:
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*(f"medgov:limit:endpoint:{endpoint_id}:{part}" for part in ("slots", "expiry", "rate")))
    client.close()


def delete_live_audits() -> int:
    from audits.models import Audit

    audits = Audit.objects.filter(endpoint__name=LIVE_ENDPOINT)
    count = audits.count()
    audits.delete()
    return count


class ProgressSampler(threading.Thread):
    """Reads the live audit's status and done/total every ``every`` seconds (its own DB connection)."""

    def __init__(self, audit_id: int, started: float, every: float = 2.0):
        super().__init__(name="progress", daemon=True)
        self.audit_id = audit_id
        self.started = started
        self.every = every
        self.samples: list[tuple[float, str, int, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from audits.models import Audit

        try:
            while not self.done.is_set():
                status, done, total = (
                    Audit.objects.filter(pk=self.audit_id).values_list("status", "done_items", "total_items").get()
                )
                self.samples.append((time.monotonic() - self.started, status, done, total))
                self.done.wait(self.every)
        finally:
            connection.close()


# --- The simulated people -------------------------------------------------------------------------


@dataclass
class Record:
    page: str
    at: float  # seconds since the load started
    ms: float
    status: int
    error: str = ""


@dataclass
class Person:
    index: int
    role: str
    username: str
    token: str
    targets: dict  # page type → list of URLs


def targets_for(username: str, data, live_audit_id: int) -> dict[str, list[str]]:
    """The URLs a person's page types pick from: objects this person may actually see."""
    from django.contrib.auth import get_user_model

    from audits.selectors import audit_list
    from governance.selectors import request_list

    user = get_user_model().objects.get(username=username)
    requests = list(request_list(user=user).values_list("pk", flat=True))
    seeded = set(data.all_audits)
    audits = [pk for pk in audit_list(user=user).values_list("pk", flat=True) if pk in seeded]
    live = audit_list(user=user).filter(pk=live_audit_id).exists()
    version = data.version_id
    items = [f"/benchmark/items/?version={version}&page={page}" for page in (1, 2, 7, 40, 120, 240)]
    items += [f"/benchmark/items/?version={version}&dimension=safety.medication", "/benchmark/items/?q=consent"]
    found = {
        "home": ["/"],
        "request list": ["/requests/", "/requests/?page=1&status=active"],
        "request detail": [f"/requests/{pk}/" for pk in requests],
        "evidence": [f"/requests/{pk}/evidence/" for pk in requests],
        "audit list": ["/audits/"],
        "audit page": [f"/audits/{pk}/" for pk in audits[-10:]] + ([f"/audits/{live_audit_id}/"] if live else []),
        "progress json": [f"/audits/{live_audit_id}/progress.json"] if live else [],
        "results": [f"/audits/{pk}/results/?outcome={o}" for pk in audits[-5:] for o in ("wrong", "refused", "")],
        "dashboard": ["/dashboard/"],
        "review queue": ["/reviews/"],
        "item browser": items,
        "api requests": ["/api/v1/deployment-requests/"],
        "api audits": ["/api/v1/audits/", "/api/v1/audits/?page=2"],
        "api items": [f"/api/v1/items/?version={version}&page={page}" for page in (1, 3, 50, 200)],
        "api systems": ["/api/v1/ai-systems/"],
    }
    return {page: urls for page, urls in found.items() if urls}


def people(data, count: int, live_audit_id: int) -> list[Person]:
    roles = []
    for role, share in ROLE_MIX.items():
        roles += [role] * round(share * count)
    roles = (roles + ["requester"] * count)[:count]
    cache: dict[str, dict] = {}
    found = []
    for index, role in enumerate(roles):
        accounts = data.accounts[role]
        username = accounts[index % len(accounts)]
        if username not in cache:
            cache[username] = targets_for(username, data, live_audit_id)
        targets = {page: urls for page, urls in cache[username].items() if page in ROLE_PAGES[role]}
        found.append(Person(index, role, username, data.tokens[username], targets))
    return found


async def timed_get(client, page: str, url: str, records: list, t0: float, **kwargs):
    import httpx

    started = time.perf_counter()
    status, error, response = 0, "", None
    try:
        response = await client.get(url, **kwargs)
        status = response.status_code
        if status >= 400:
            error = f"HTTP {status} {url}"
        elif response.is_redirect and "/accounts/login/" in response.headers.get("location", ""):
            error = f"redirected to the login page from {url}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc} ({url})"
    records.append(Record(page, started - t0, 1000 * (time.perf_counter() - started), status, error))
    return response if not error else None


async def log_in(client, person: Person, password: str, records: list, t0: float) -> bool:
    """The real login form: GET it for the CSRF cookie and token, POST the credentials, expect a redirect."""
    import httpx

    form = await timed_get(client, "login form", "/accounts/login/", records, t0)
    if form is None:
        return False
    match = CSRF_FIELD.search(form.text)
    if match is None:
        records.append(Record("login", time.perf_counter() - t0, 0.0, form.status_code, "no CSRF token in the form"))
        return False
    started = time.perf_counter()
    status, error = 0, ""
    try:
        response = await client.post(
            "/accounts/login/",
            data={"csrfmiddlewaretoken": match.group(1), "username": person.username, "password": password},
            headers={"Referer": f"{client.base_url}accounts/login/"},
        )
        status = response.status_code
        if status != 302:
            error = f"login of {person.username} answered {status}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc} (login)"
    records.append(Record("login", started - t0, 1000 * (time.perf_counter() - started), status, error))
    return not error


async def browse(
    person: Person, base_url: str, password: str, args, records: list, t0: float, window_open: asyncio.Event
) -> None:
    import httpx

    rng = random.Random(person.index)
    await asyncio.sleep(args.ramp * person.index / max(1, args.users))
    deadline = t0 + args.ramp + args.duration
    weights = {page: weight for page, weight in ROLE_PAGES[person.role].items() if page in person.targets}
    pages, page_weights = list(weights), list(weights.values())
    # Idle connections are dropped after 1 s, before gunicorn's keep-alive (2 s) closes them: otherwise a request
    # sent just as the server closes the connection fails with ReadError (browsers retry those silently).
    limits = httpx.Limits(keepalive_expiry=1.0)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, follow_redirects=False, limits=limits) as client:
        if not await log_in(client, person, password, records, t0):
            return
        await window_open.wait()  # everyone browses together once all are signed in and the audit is queued
        await asyncio.sleep(rng.uniform(0, args.think_max))
        while time.perf_counter() < deadline:
            page = rng.choices(pages, page_weights)[0]
            url = rng.choice(person.targets[page])
            headers = {"Authorization": f"Token {person.token}"} if page.startswith("api") else None
            await timed_get(client, page, url, records, t0, headers=headers)
            await asyncio.sleep(rng.uniform(args.think_min, args.think_max))


async def run_load(persons: list[Person], base_url: str, password: str, args, t0: float, open_window) -> list[Record]:
    """Sign everyone in over the ramp-up, then call ``open_window`` (it queues the live audit) and browse."""
    records: list[Record] = []
    window_open = asyncio.Event()

    async def opener():
        await asyncio.sleep(max(0.0, t0 + args.ramp - time.perf_counter()))
        await asyncio.to_thread(open_window)
        window_open.set()

    browsing = (browse(person, base_url, password, args, records, t0, window_open) for person in persons)
    await asyncio.gather(opener(), *browsing)
    return records


def cpu_seconds(pids: list[int], *, descendants: bool = True) -> float:
    """User + system CPU seconds of these processes (and their descendants)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            processes = [root, *root.children(recursive=True)] if descendants else [root]
        except psutil.NoSuchProcess:
            continue
        for process in processes:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
    return total


def cpu_snapshot(children: list["Child"]) -> dict[str, float]:
    import psutil

    snapshot = {child.name: cpu_seconds([child.pid]) for child in children}
    postgres = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres", "postmaster")]
    snapshot["postgres (all)"] = cpu_seconds(postgres)
    snapshot["load generator"] = cpu_seconds([os.getpid()], descendants=False)
    machine = psutil.cpu_times()
    snapshot["machine (all)"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    return snapshot


# --- Report ---------------------------------------------------------------------------------------


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def stats_line(name: str, rows: list[Record]) -> str:
    times = [row.ms for row in rows]
    errors = sum(1 for row in rows if row.error)
    return (
        f"{name:<16} {len(rows):7d} {errors:6d} {statistics.median(times):8.1f} {pct(times, 0.95):8.1f} "
        f"{pct(times, 0.99):8.1f} {max(times):8.1f}"
    )


def report(records: list[Record], samples, args, wall: float) -> bool:
    by_page: dict[str, list[Record]] = defaultdict(list)
    for row in records:
        by_page[row.page].append(row)
    pages = [row for row in records if row.page not in ("login", "login form")]
    signing_in = [row for row in records if row.page in ("login", "login form")]
    header = f"{'page type':<16} {'requests':>7} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(f"\n{args.users} users signed in over {args.ramp:.0f} s, then {args.duration:.0f} s of browsing while the")
    print(f"audit runs, think {args.think_min}-")
    print(f"{args.think_max} s; gunicorn 3 workers × 4 threads, 1 Celery worker (concurrency 2), simulator 0.05 s\n")
    print(header)
    print("-" * len(header))
    for name in sorted(by_page, key=lambda name: -len(by_page[name])):
        print(stats_line(name, by_page[name]))
    print("-" * len(header))
    print(stats_line("all pages", pages))
    print(stats_line("signing in", signing_in))
    print(f"\nthroughput: {len(pages) / args.duration:.1f} pages/s while browsing")
    print("\nover time (pages, logins apart):")
    print(f"  {'window':<12} {'pages':>6} {'p50 ms':>8} {'p95 ms':>8}  logins")
    window = 10.0
    for start in range(0, int(args.ramp + args.duration + window), int(window)):
        rows = [row.ms for row in pages if start <= row.at < start + window]
        logins = sum(1 for row in records if row.page == "login" and start <= row.at < start + window)
        if rows:
            span = f"{start}-{start + int(window)} s"
            print(f"  {span:<12} {len(rows):6d} {statistics.median(rows):8.1f} {pct(rows, 0.95):8.1f}  {logins}")
    errors = [row for row in records if row.error]
    if errors:
        print(f"\n{len(errors)} errors, first ones:")
        for row in errors[:10]:
            print(f"  t={row.at:6.1f}s {row.page}: {row.error}")

    print("\nlive audit (t since the load started: status done/total):")
    line = []
    for at, status, done, total in samples[:: max(1, len(samples) // 12)] + samples[-1:]:
        line.append(f"t={at:5.1f}s {status} {done}/{total}")
    print("  " + "\n  ".join(line))
    progressing = audit_progressing(samples)
    print(f"audit kept progressing during the load: {'yes' if progressing else 'NO'}")

    p95 = pct([row.ms for row in pages], 0.95)
    ok_latency = p95 < TARGET_P95_MS
    ok_errors = not errors
    print(f"\n{'PASS' if ok_latency else 'FAIL'}  page p95 {p95:.1f} ms (target < {TARGET_P95_MS:.0f} ms)")
    print(f"{'PASS' if ok_errors else 'FAIL'}  {len(errors)} errors (target: none)")
    print(f"{'PASS' if progressing else 'FAIL'}  the audit kept progressing")
    return ok_latency and ok_errors and progressing


def audit_progressing(samples, window: float = 10.0) -> bool:
    """True when, until the audit ended, every ``window`` seconds saw more items done."""
    if not samples:
        return False
    for index, (at, status, done, _total) in enumerate(samples):
        if status in ("completed", "completed_with_errors"):
            return True
        if status in ("failed", "cancelled"):
            return False
        later = [s for s in samples[index:] if s[0] >= at + window]
        if later and later[0][2] <= done and later[0][1] == status:
            return False
    return samples[-1][2] > samples[0][2]


# --- Main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load after the ramp-up")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which the users log in")
    parser.add_argument("--think-min", type=float, default=0.5)
    parser.add_argument("--think-max", type=float, default=1.5)
    parser.add_argument("--latency", type=float, default=0.05, help="the simulator's seconds per answer")
    parser.add_argument("--audits", type=int, default=50)
    parser.add_argument("--items", type=int, default=12000)
    parser.add_argument("--keep-audit", action="store_true", help="keep the live audit and its results")
    parser.add_argument("--py-spy", type=Path, help="record py-spy profiles of gunicorn and the worker here")
    parser.add_argument("--logs", type=Path, help="directory for the children's logs (default: MEDGOV_VAR_DIR/load)")
    args = parser.parse_args()

    setup_django()
    from bench_data import seed

    from audits import services
    from audits.models import Audit
    from benchmark.models import BenchmarkVersion

    data = seed(n_audits=args.audits, items=args.items)
    log_dir = args.logs or Path(os.environ["MEDGOV_VAR_DIR"]) / "load"
    log_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)  # clean up on `kill` as on Ctrl-C

    children: list[Child] = []
    spy = PySpy(args.py_spy)
    sampler = None
    audit = None
    passed = False
    try:
        clear_leftovers()
        sim_port, web_port = free_port(), free_port()
        children.append(start_simulator(sim_port, args.latency, log_dir))
        endpoint = live_endpoint(f"http://127.0.0.1:{sim_port}/v1")
        clear_limiter(endpoint.pk)
        children.append(start_gunicorn(web_port, log_dir))
        children.append(start_worker(log_dir))
        print(f"gunicorn :{web_port}, simulator :{sim_port}, worker up; logs in {log_dir}")

        from django.contrib.auth import get_user_model

        auditor = get_user_model().objects.get(username="aud")
        audit = services.audit_create(
            endpoint=endpoint, benchmark_version=BenchmarkVersion.objects.get(pk=data.version_id), requested_by=auditor
        )
        persons = people(data, args.users, audit.pk)
        print(f"audit #{audit.pk} ({args.items} items); {len(persons)} users: {dict(_role_counts(persons))}")
        sampler = ProgressSampler(audit.pk, time.monotonic())
        cpu_before: dict[str, float] = {}

        def open_window() -> None:
            """All signed in: queue the live audit and start measuring CPU and the audit's progress."""
            from django.db import connection

            services.audit_queue(audit=audit, by=auditor)
            connection.close()
            sampler.started = time.monotonic()
            sampler.start()
            cpu_before.update(cpu_snapshot(children))
            spy.start("gunicorn", children[1].pid)
            spy.start("worker", children[2].pid)

        t0 = time.perf_counter()
        base_url = f"http://127.0.0.1:{web_port}"
        records = asyncio.run(run_load(persons, base_url, data.password, args, t0, open_window))
        wall = time.perf_counter() - t0 - args.ramp
        cpu_after = cpu_snapshot(children)
        spy.stop()
        sampler.done.set()
        if sampler.is_alive():
            sampler.join(10)
        passed = report(records, sampler.samples, args, wall)
        print(f"\nCPU seconds while browsing ({wall:.0f} s wall, {os.cpu_count()} CPUs):")
        ours = 0.0
        for name, after in cpu_after.items():
            used = after - cpu_before.get(name, 0.0)
            if name == "machine (all)":
                print(f"  {'other processes':<16} {max(0.0, used - ours):7.1f} s  (other work on the machine)")
            else:
                ours += used
            print(f"  {name:<16} {used:7.1f} s  ({100 * used / wall:5.1f}% of one CPU)")
        for child in children:
            if not child.alive():
                print(f"{child.name} died during the run:\n{child.output()}")
                passed = False
    finally:
        spy.stop()
        if sampler is not None:
            sampler.done.set()
        if audit is not None:
            audit.refresh_from_db()
            if not audit.is_terminal:
                services.audit_cancel(audit=audit, reason="the load test ended")
        for child in reversed(children):
            child.stop()
        if audit is not None and not args.keep_audit:
            final = Audit.objects.filter(pk=audit.pk).values_list("status", "done_items", "total_items").first()
            print(f"live audit #{audit.pk} at the end: {final}; deleted {delete_live_audits()} live audit(s)")
    return 0 if passed else 1


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _role_counts(persons: list[Person]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for person in persons:
        counts[person.role] += 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
