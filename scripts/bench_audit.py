#!/usr/bin/env python
"""Benchmark a whole benchmark audit end to end: one Celery worker against the built-in model simulator.

Imports ``--items`` generated items (the generator of ``bench_import.py``), starts the simulator
(``manage.py simulate_llm --latency L --accuracy 0.6``) and ONE worker exactly as the README documents it
(``celery -A config worker --loglevel WARNING --concurrency 2 -O fair --without-gossip --without-mingle``),
registers the simulator as an endpoint with ``max_concurrency=C``, queues the audit and measures:

* wall time from queueing to the audit being terminal and scored;
* the latency-bound limit N·L/C and the efficiency limit / wall; items per second;
* the worker's peak RSS summed over its process tree (sampled every 0.2 s);
* the simulator's peak number of requests in flight (its ``/_stats``);
* CPU seconds spent by the worker, the simulator and PostgreSQL during the audit;
* where the time went (queue → start → first result → last result → finished, from the audit's rows);

and checks one ``ItemResult`` per item and the status ``completed``. Every child process is stopped at the
end, also on errors and Ctrl-C. ``--worker-env AUDIT_CHUNK_SIZE=1000`` (repeatable) tries settings in the
worker; ``--py-spy DIR`` records collapsed stacks of the worker and the simulator during each audit.

Targets on a 2-core machine (N=12000, C=128): efficiency >= 0.9 at L=0.2; >= 1,000 items/s at L=0; worker
RSS < 300 MB. Run with ``make bench-audit`` or ``.venv/bin/python scripts/bench_audit.py --latency 0``. The database
(``DATABASE_URL``, default medgov_bench, its name must contain "bench") is dropped and re-created unless ``--keep-db``:
the simulator reads every item in it, so leftovers of earlier runs would slow it down.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import ROOT, generate_items, import_file, setup_django, write_jsonl

TARGET_EFFICIENCY = 0.9
TARGET_ITEMS_PER_S = 1000.0
TARGET_WORKER_RSS_MB = 300.0
SAMPLE_EVERY_S = 0.2


# --- Child processes ------------------------------------------------------------------------------


class Child:
    """A child process in its own process group; ``stop`` ends it and anything it started."""

    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path, cwd: Path = ROOT):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = self.log_path.open("w")
        self.popen = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, tail: int = 3000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-tail:]

    def processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout: float = 10.0, sig: int = signal.SIGTERM) -> None:
        if self.alive():
            self._signal_group(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(5)
        self._signal_group(signal.SIGKILL)  # grandchildren left in the group (pool processes)
        self.log.close()


def memory_mb(processes: list[psutil.Process], by_pid: dict | None = None) -> tuple[float, float]:
    """(summed RSS, summed PSS) in MB. Forked pool processes share pages, which RSS counts in each.
    ``by_pid`` collects each process's peak RSS."""
    rss = pss = 0
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        except psutil.AccessDenied:
            info = process.memory_info()
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        if by_pid is not None:
            by_pid[process.pid] = max(by_pid.get(process.pid, 0.0), info.rss / 2**20)
    return rss / 2**20, pss / 2**20


def cpu_by_pid(processes: list[psutil.Process]) -> dict[int, float]:
    times = {}
    for process in processes:
        try:
            cpu = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        times[process.pid] = cpu.user + cpu.system
    return times


def cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(cpu_by_pid(processes).values())


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two ``cpu_by_pid`` snapshots by the processes alive at both."""
    return sum(after[pid] - before[pid] for pid in after.keys() & before.keys())


def postgres_processes() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in ("postgres", "postmaster"):
            found.append(process)
    return found


class TreeSampler(threading.Thread):
    """Samples the summed RSS (and PSS) of a process tree every 0.2 s; ``take_peak`` returns and resets peaks."""

    def __init__(self, child: Child):
        super().__init__(name=f"rss-{child.name}", daemon=True)
        self.child = child
        self.peak = (0.0, 0.0)
        self.by_pid: dict[int, float] = {}
        self.done = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_EVERY_S):
            with self.lock:
                rss, pss = memory_mb(self.child.processes(), self.by_pid)
                self.peak = (max(self.peak[0], rss), max(self.peak[1], pss))

    def take_peak(self) -> tuple[float, float, dict[int, float]]:
        """(summed RSS, summed PSS, {pid: RSS}) peaks since the last call, all in MB."""
        with self.lock:
            by_pid, self.by_pid = self.by_pid, {}
            current = memory_mb(self.child.processes(), by_pid)
            value, self.peak = self.peak, current
        return max(value[0], current[0]), max(value[1], current[1]), by_pid


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def start_simulator(latency: float, log_dir: Path, jitter: bool = False) -> tuple[Child, int]:
    port = free_port()
    args = [sys.executable, "manage.py", "simulate_llm", "--port", str(port), "--latency", str(latency)]
    args += ["--jitter"] if jitter else []
    child = Child("simulator", [*args, "--accuracy", "0.6"], child_env(), log_dir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"the simulator exited at start:\n{child.output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return child, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the simulator did not listen within 60 s:\n{child.output()}")


def start_worker(
    concurrency: int, extra_env: dict, log_dir: Path, loglevel: str = "WARNING", root: Path = ROOT
) -> tuple[Child, str]:
    """One worker, as the README documents it; ``root`` runs a patched copy of the code (experiments)."""
    celery = Path(sys.executable).with_name("celery")
    hostname = f"bench-{os.getpid()}@{socket.gethostname()}"
    args = [str(celery) if celery.exists() else "celery", "-A", "config", "worker", "--loglevel", loglevel]
    args += ["--concurrency", str(concurrency), "-O", "fair", "--without-gossip", "--without-mingle"]
    env = child_env(extra_env)
    # celery only puts the working directory on sys.path while it loads the app: without this, modules imported
    # later could come from the editable install (another checkout) instead of ``root``
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    child = Child("worker", [*args, "--hostname", hostname], env, log_dir, cwd=root)
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"the worker exited at start:\n{child.output()}")
        try:
            replies = app.control.ping(destination=[hostname], timeout=0.5)
        except Exception:  # the broker connection is still coming up
            replies = []
        if any(hostname in reply for reply in replies):
            return child, hostname
        time.sleep(0.2)
    raise RuntimeError(f"the worker did not answer a ping within 60 s:\n{child.output()}")


def http_json(url: str, method: str = "GET") -> dict:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class PySpy:
    """``py-spy record`` on the worker (with its pool processes) and the simulator during one audit."""

    def __init__(self, out_dir: Path | None):
        self.out_dir = out_dir
        self.binary = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        self.running: list[subprocess.Popen] = []
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            if self.binary is None:
                raise SystemExit("--py-spy needs py-spy: .venv/bin/pip install py-spy")

    def start(self, label: str, targets: dict[str, int]) -> None:
        if self.out_dir is None:
            return
        for name, pid in targets.items():
            for fmt, suffix in (("raw", "txt"), ("flamegraph", "svg")):
                out = self.out_dir / f"{name}-{label}.{suffix}"
                args = [self.binary, "record", "--pid", str(pid), "--subprocesses", "--rate", "100"]
                args += ["--format", fmt, "--output", str(out), "--nonblocking"]
                self.running.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        for process in self.running:
            process.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        for process in self.running:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.running = []


# --- One audit ------------------------------------------------------------------------------------


def cancel_leftover_audits() -> int:
    """Audits a killed earlier run left queued or running would compete for the worker: end them."""
    from audits import services
    from audits.models import Audit

    count = 0
    for audit in Audit.objects.filter(status__in=[Audit.Status.QUEUED, Audit.Status.RUNNING]):
        services.audit_cancel(audit=audit, reason="left over by an interrupted benchmark run")
        count += 1
    return count


def clear_limiter(endpoint_id: int) -> None:
    """Slot leases a killed worker left for this endpoint id (a re-created database reuses ids)."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*(f"medgov:limit:endpoint:{endpoint_id}:{part}" for part in ("slots", "expiry", "rate")))
    client.close()


class AuditStuck(RuntimeError):
    """The audit did not end: a task raised, progress stalled or the time ran out."""


def wait_until_scored(audit_id: int, timeout: float, worker: Child, stall_s: float = 60.0) -> float:
    """Poll until the audit is terminal and scored; fail fast when a task raises or progress stalls."""
    from audits.models import Audit

    log_start = worker.log_path.stat().st_size
    deadline = time.perf_counter() + timeout
    last_done, last_change = -1, time.perf_counter()
    polls = 0
    while time.perf_counter() < deadline:
        row = Audit.objects.filter(pk=audit_id).values_list("status", "scored_at", "done_items").get()
        status, scored_at, done = row
        now = time.perf_counter()
        if status in Audit.TERMINAL and scored_at is not None:
            return now
        if not worker.alive():
            raise RuntimeError(f"the worker died during audit {audit_id}:\n{worker.output()}")
        if done != last_done:
            last_done, last_change = done, now
        polls += 1
        if polls % 50 == 0 or now - last_change > stall_s:
            with worker.log_path.open(errors="replace") as log:
                log.seek(log_start)
                new = log.read()
            if "raised unexpected" in new or now - last_change > stall_s:
                raise AuditStuck(f"audit {audit_id} is stuck at {done} results ({status}); worker log:\n{new[-4000:]}")
        time.sleep(0.02)
    raise AuditStuck(f"audit {audit_id} did not end within {timeout:.0f} s")


def audit_facts(audit_id: int, version, items: int) -> dict:
    """Checks (one result per item, completed) and the audit's own timeline from its rows."""
    from django.db.models import Max, Min, Sum

    from audits.models import Audit, AuditChunk, ItemResult

    audit = Audit.objects.get(pk=audit_id)
    results = ItemResult.objects.filter(audit_id=audit_id)
    span = results.aggregate(first=Min("created_at"), last=Max("created_at"))
    count = results.count()
    distinct = results.values("item_id").distinct().count()
    foreign = results.exclude(item__version=version).count()
    chunks = AuditChunk.objects.filter(audit_id=audit_id)
    attempts = chunks.aggregate(total=Sum("attempts"))["total"] or 0

    def gap(start, end):
        return (end - start).total_seconds() if start and end else float("nan")

    checks = {
        f"status completed (got {audit.status})": audit.status == Audit.Status.COMPLETED,
        f"{items} results (got {count})": count == items,
        f"one result per item ({distinct} distinct items)": distinct == items and foreign == 0,
        f"progress {audit.done_items}/{audit.total_items}": audit.done_items == audit.total_items == items,
    }
    return {
        "audit": audit,
        "checks": checks,
        "ok": all(checks.values()),
        "chunks": chunks.count(),
        "claims": attempts,
        "accuracy": (audit.summary.get("overall") or {}).get("accuracy"),
        "phases": {
            "queue→start": gap(audit.queued_at, audit.started_at),
            "start→1st result": gap(audit.started_at, span["first"]),
            "1st→last result": gap(span["first"], span["last"]),
            "last result→finished": gap(span["last"], audit.finished_at),
        },
    }


def run_audit(
    *,
    run: int,
    endpoint,
    version,
    items: int,
    latency: float,
    worker: Child,
    simulator: Child,
    sampler: TreeSampler,
    sim_url: str,
    spy: PySpy,
) -> dict:
    from audits import services

    http_json(f"{sim_url}/_reset", "POST")
    log_start = worker.log_path.stat().st_size
    sampler.take_peak()
    pg = postgres_processes()
    cpu_before = [cpu_by_pid(worker.processes()), cpu_by_pid(simulator.processes()), cpu_by_pid(pg)]
    system_before = psutil.cpu_times()
    own_before = cpu_seconds([psutil.Process()])
    spy.start(f"r{run}", {"worker": worker.pid, "simulator": simulator.pid})
    try:
        started = time.perf_counter()
        audit = services.audit_create_and_queue(endpoint=endpoint, benchmark_version=version)
        ended = wait_until_scored(audit.pk, timeout=max(300.0, 20 * items * latency), worker=worker)
    finally:
        spy.stop()
    wall = ended - started
    system_after = psutil.cpu_times()
    cpu_after = [cpu_by_pid(worker.processes()), cpu_by_pid(simulator.processes()), cpu_by_pid(pg)]
    spent = [cpu_delta(before, after) for before, after in zip(cpu_before, cpu_after, strict=True)]
    total = sum(system_after) - sum(system_before)
    idle = (system_after.idle + system_after.iowait) - (system_before.idle + system_before.iowait)
    own = cpu_seconds([psutil.Process()]) - own_before
    memory = sampler.take_peak()
    stats = http_json(f"{sim_url}/_stats")
    facts = audit_facts(audit.pk, version, items)
    with worker.log_path.open(errors="replace") as log:
        log.seek(log_start)
        problems = [line for line in log if " WARNING " in line or " ERROR " in line]
    limit = items * latency / endpoint.max_concurrency
    return {
        "run": run,
        "audit_id": audit.pk,
        "wall_s": wall,
        "limit_s": limit,
        "efficiency": limit / wall if latency else None,
        "items_per_s": items / wall,
        "worker_rss_mb": memory[0],
        "worker_pss_mb": memory[1],
        "worker_rss_by_pid": memory[2],
        "peak_in_flight": stats.get("peak_in_flight"),
        "requests": stats.get("requests"),
        # beyond one call per item and the start-up probe: answers thrown away and asked again
        "extra_requests": (stats.get("requests") or 0) - items - 1,
        "worker_problems": problems,
        "worker_cpu_s": spent[0],
        "sim_cpu_s": spent[1],
        "pg_cpu_s": spent[2],
        "system_busy": (total - idle) / total if total else 0.0,
        # CPU used outside the processes above (another test run, a demo, the kernel…): noise in the figures
        "other_cpu_s": (total - idle) - own - sum(spent),
        **facts,
    }


# --- Reporting ------------------------------------------------------------------------------------


RUN_COLUMNS = [
    # (header, width, cell)
    ("run", 3, lambda r: r["run"]),
    ("audit", 5, lambda r: r["audit_id"]),
    ("wall s", 7, lambda r: f"{r['wall_s']:.2f}"),
    ("limit s", 7, lambda r: f"{r['limit_s']:.2f}"),
    ("eff", 5, lambda r: "n/a" if r["efficiency"] is None else f"{r['efficiency']:.2f}"),
    ("items/s", 7, lambda r: f"{r['items_per_s']:.0f}"),
    ("wRSS MB", 7, lambda r: f"{r['worker_rss_mb']:.0f}"),
    ("wPSS MB", 7, lambda r: f"{r['worker_pss_mb']:.0f}"),
    ("peak in-flight", 14, lambda r: r["peak_in_flight"]),
    ("requests", 8, lambda r: r["requests"]),
    ("extra req", 9, lambda r: r["extra_requests"]),
    ("w warnings", 10, lambda r: len(r["worker_problems"])),
    ("worker cpu s", 12, lambda r: f"{r['worker_cpu_s']:.1f}"),
    ("sim cpu s", 9, lambda r: f"{r['sim_cpu_s']:.1f}"),
    ("pg cpu s", 8, lambda r: f"{r['pg_cpu_s']:.1f}"),
    ("sys busy", 8, lambda r: f"{100 * r['system_busy']:.0f}%"),
    ("other cpu s", 11, lambda r: f"{r['other_cpu_s']:.1f}"),
    ("chunks", 6, lambda r: r["chunks"]),
    ("accuracy", 8, lambda r: "n/a" if r["accuracy"] is None else f"{r['accuracy']:.3f}"),
    ("checks", 6, lambda r: "ok" if r["ok"] else "FAIL"),
]


def print_runs(results: list[dict]) -> None:
    print("\n" + " ".join(f"{header:>{width}}" for header, width, _cell in RUN_COLUMNS))
    for r in results:
        print(" ".join(f"{cell(r)!s:>{width}}" for _header, width, cell in RUN_COLUMNS))
    print(f"\n{'run':>3} " + " ".join(f"{name:>20}" for name in results[0]["phases"]) + "   (seconds)")
    for r in results:
        print(f"{r['run']:>3} " + " ".join(f"{value:>20.2f}" for value in r["phases"].values()))
    for r in results:
        for label, ok in r["checks"].items():
            if not ok:
                print(f"run {r['run']}: FAIL {label}")
        for line in r["worker_problems"][:5]:
            print(f"run {r['run']}: worker said: {line.strip()[:300]}")


def summarize(results: list[dict], options) -> bool:
    walls = [r["wall_s"] for r in results]
    best = min(results, key=lambda r: r["wall_s"])
    rss = max(r["worker_rss_mb"] for r in results)
    pss = max(r["worker_pss_mb"] for r in results)
    checks_ok = all(r["ok"] for r in results)
    met = {"results": checks_ok, "rss": rss < TARGET_WORKER_RSS_MB}
    head = f"audit {options.items} items L={options.latency:g} C={options.concurrency}"
    print(
        f"\n{head}: best {best['wall_s']:.2f} s, median {statistics.median(walls):.2f} s, "
        f"{best['items_per_s']:.0f} items/s (best), limit N·L/C {best['limit_s']:.2f} s"
    )
    if options.latency:
        met["efficiency"] = best["efficiency"] >= TARGET_EFFICIENCY
        print(
            f"efficiency: best {best['efficiency']:.2f}, median "
            f"{statistics.median(r['efficiency'] for r in results):.2f} "
            f"(target >= {TARGET_EFFICIENCY:g}: {'met' if met['efficiency'] else 'MISSED'})"
        )
    else:
        met["throughput"] = best["items_per_s"] >= TARGET_ITEMS_PER_S
        print(
            f"throughput: best {best['items_per_s']:.0f} items/s, median "
            f"{statistics.median(r['items_per_s'] for r in results):.0f} items/s "
            f"(target >= {TARGET_ITEMS_PER_S:,.0f}: {'met' if met['throughput'] else 'MISSED'})"
        )
    print(
        f"worker peak RSS (summed over its {options.worker_concurrency + 1} processes): {rss:.0f} MB "
        f"(target < {TARGET_WORKER_RSS_MB:g} MB: {'met' if met['rss'] else 'MISSED'}); PSS {pss:.0f} MB"
    )
    by_pid = max(results, key=lambda r: r["worker_rss_mb"])["worker_rss_by_pid"]
    print(f"  per process (peak RSS, MB): {', '.join(f'{pid}: {mb:.0f}' for pid, mb in sorted(by_pid.items()))}")
    print(f"simulator peak in-flight: {max(r['peak_in_flight'] or 0 for r in results)} (endpoint limit C)")
    print(f"checks (one result per item, completed): {'PASS' if checks_ok else 'FAIL'}")
    return all(met.values())


# --- Main -----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--items", type=int, default=12000, help="N, items in the audit")
    parser.add_argument("--latency", type=float, default=0.2, help="L, simulator seconds per answer")
    parser.add_argument("--jitter", action="store_true", help="vary the latency uniformly by ±50%% (mean L)")
    parser.add_argument("--concurrency", type=int, default=128, help="C, the endpoint's max_concurrency")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery pool processes")
    parser.add_argument("--repeat", type=int, default=1, help="audits to run one after another")
    parser.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE", help="extra worker env")
    parser.add_argument("--worker-loglevel", default="WARNING", help="INFO logs every task (diagnostics)")
    parser.add_argument("--worker-root", type=Path, default=ROOT, help="run the worker from a patched copy")
    parser.add_argument("--py-spy", type=Path, metavar="DIR", help="record the worker and simulator with py-spy")
    parser.add_argument(
        "--keep-db", action="store_true", help="reuse the benchmark database (default: drop and re-create it)"
    )
    parser.add_argument("--logs", type=Path, metavar="DIR", help="keep the worker and simulator logs here")
    options = parser.parse_args()
    if any("=" not in pair for pair in options.worker_env):
        parser.error("--worker-env takes NAME=VALUE")
    return options


def main() -> int:
    options = parse_args()
    worker_env = dict(pair.split("=", 1) for pair in options.worker_env)

    def terminate(signum, _frame):
        raise SystemExit(128 + signum)  # runs the finally blocks below, which stop the children

    signal.signal(signal.SIGTERM, terminate)
    setup_django(fresh_db=not options.keep_db)
    from audits import services

    log_dir = options.logs or Path(tempfile.mkdtemp(prefix="medgov-bench-audit-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d%H%M%S")
    children: list[Child] = []
    sampler = None
    finished = False
    try:
        left = cancel_leftover_audits()
        if left:
            print(f"cancelled {left} audit(s) left running by an earlier, interrupted run")
        started = time.perf_counter()
        source = write_jsonl(
            generate_items(options.items, seed=7, id_prefix=f"audit{stamp}"), log_dir / "audit-items.jsonl"
        )
        imported = import_file(source, f"bench-audit-{stamp}", log_dir)
        from benchmark.models import BenchmarkSuite

        version = BenchmarkSuite.objects.get(name=f"bench-audit-{stamp}").latest_published_version()
        print(f"imported {imported['document']['items']} items in {time.perf_counter() - started:.1f} s")

        simulator, port = start_simulator(options.latency, log_dir, options.jitter)
        children.append(simulator)
        worker, hostname = start_worker(
            options.worker_concurrency, worker_env, log_dir, options.worker_loglevel, options.worker_root.resolve()
        )
        children.append(worker)
        sampler = TreeSampler(worker)
        sampler.start()
        sim_url = f"http://127.0.0.1:{port}"
        endpoint, _created = services.endpoint_register(
            name=f"bench-sim-{stamp}",
            base_url=f"{sim_url}/v1",
            model="medgov-sim-1",
            max_concurrency=options.concurrency,
        )
        clear_limiter(endpoint.pk)
        extra = " ".join(options.worker_env)
        print(
            f"simulator on port {port} (pid {simulator.pid}, latency {options.latency:g} s); worker {hostname} "
            f"(pid {worker.pid}, {options.worker_concurrency} processes{', ' + extra if extra else ''}); "
            f"endpoint {endpoint.name} max_concurrency {options.concurrency}; logs in {log_dir}"
        )
        spy = PySpy(options.py_spy)
        results = []
        failures = 0
        for run in range(1, options.repeat + 1):
            try:
                result = run_audit(
                    run=run,
                    endpoint=endpoint,
                    version=version,
                    items=options.items,
                    latency=options.latency,
                    worker=worker,
                    simulator=simulator,
                    sampler=sampler,
                    sim_url=sim_url,
                    spy=spy,
                )
            except AuditStuck as stuck:
                failures += 1
                print(f"run {run}: FAILED: {stuck}", flush=True)
                cancel_leftover_audits()
                continue
            results.append(result)
            efficiency = f"efficiency {result['efficiency']:.2f}, " if result["efficiency"] is not None else ""
            print(
                f"run {run}: audit {result['audit_id']} {result['audit'].status} in {result['wall_s']:.2f} s "
                f"({efficiency}{result['items_per_s']:.0f} items/s)",
                flush=True,
            )
        if not results:
            print(f"\nall {failures} audit(s) failed")
            return 1
        print_runs(results)
        finished = True
        if failures:
            print(f"\n{failures} of {options.repeat} audit(s) FAILED (see above)")
        return 0 if summarize(results, options) and not failures else 1
    finally:
        if sampler is not None:
            sampler.done.set()
        for child in reversed(children):
            child.stop()
        if options.logs is None and finished:
            shutil.rmtree(log_dir, ignore_errors=True)
        elif not finished:
            print(f"stopped early; the worker and simulator logs are in {log_dir}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
