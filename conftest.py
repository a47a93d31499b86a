"""Shared fixtures: real PostgreSQL (pytest-django), real Redis, a real Celery worker process and the
built-in model simulator as a real HTTP server on loopback."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_children() -> str:
    """The URL of the test database pytest-django created, for worker and simulator processes."""
    from django.db import connection

    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"


def child_env(**extra) -> dict:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url_for_children()
    env["PYTHONUNBUFFERED"] = "1"
    env.update({key: str(value) for key, value in extra.items()})
    return env


# Logs of the child processes the running test started, shown with its report when it fails.
_started_logs: list[Path] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for path in _started_logs:
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            report.sections.append((f"last lines of {path.name}", "\n".join(lines[-120:])))
    if report.when == "teardown":
        _started_logs.clear()


class Process:
    """A child process in its own process group, stopped (and its children) on exit."""

    def __init__(self, args: list[str], env: dict, log_path: Path):
        self.log_path = log_path
        _started_logs.append(log_path)
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.kill(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.popen.wait(5)
        self.kill(signal.SIGKILL)  # any grandchildren left in the group
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")


def start_worker(tmp_path: Path, *, name: str = "w1", concurrency: int = 2, beat: bool = False, **env) -> Process:
    args = [
        str(ROOT / ".venv/bin/celery") if (ROOT / ".venv/bin/celery").exists() else "celery",
        "-A",
        "config",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(concurrency),
        "--hostname",
        f"{name}-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "-O",
        "fair",
    ]
    if beat:
        args += ["--beat", "--schedule", str(tmp_path / f"beat-{name}")]
    process = Process(args, child_env(**env), tmp_path / f"worker-{name}.log")
    wait_for_worker(process)
    return process


def wait_for_worker(process: Process, timeout: float = 60) -> None:

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"worker exited at start:\n{process.output()[-3000:]}")
        if "ready." in process.output():
            return
        time.sleep(0.2)
    raise RuntimeError(f"worker not ready after {timeout}s:\n{process.output()[-3000:]}")


def start_simulator(
    tmp_path: Path, *args: str, name: str = "sim", port: int | None = None, **env
) -> tuple[Process, str]:
    port = port or free_port()
    process = Process(
        [sys.executable, "manage.py", "simulate_llm", "--port", str(port), *args],
        child_env(**env),
        tmp_path / f"simulator-{name}-{port}.log",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"simulator exited at start:\n{process.output()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.1)
    process.stop()
    raise RuntimeError("simulator did not start listening")


@pytest.fixture(autouse=True)
def _default_language(settings):
    """Every test starts in the configured language, whatever an earlier request activated."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(scope="session", autouse=True)
def _clean_test_redis():
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    yield


def purge_queues() -> None:
    """Drop messages that earlier tests published without a worker to consume them."""
    from config.celery import app

    app.control.purge()


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """A real ``celery -A config worker`` process on Redis and the test database."""
    purge_queues()
    process = start_worker(tmp_path)
    yield process
    process.stop()


@pytest.fixture
def simulator_factory(tmp_path):
    started: list[Process] = []

    def make(*args: str, name: str = "sim", port: int | None = None, **env) -> str:
        process, url = start_simulator(tmp_path, *args, name=name, port=port, **env)
        started.append(process)
        make.processes[url] = process
        return url

    make.processes = {}
    yield make
    for process in started:
        process.stop()
