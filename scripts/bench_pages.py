#!/usr/bin/env python
"""Measure the server-side render time of the heaviest pages on a large hospital (``bench_data.seed``).

Seeds the database when needed (50 completed audits × 12,000 items = 600,000 item results; reused when already
there), then renders each page in-process with ``django.test.Client`` logged in (``force_login``) as the role
that uses it: 5 warm-up and 100 timed requests each. Pages:

* the compliance dashboard ``/dashboard/`` (compliance administrator);
* the IRB evidence page ``/requests/<id>/evidence/`` of the request with 20 audits (IRB chair);
* the audit report ``/audits/<id>/`` of a 12,000-item audit (auditor);
* the audit results drill-down ``/audits/<id>/results/?outcome=wrong`` (auditor);
* the request detail page ``/requests/<id>/`` (its requester);

and, for context, the other pages the load test visits most (audit list, home pages, request list, progress
JSON, item browser, API lists, the unfiltered results page).

Prints page, p50 / p95 / max ms, SQL queries and their time (``CaptureQueriesContext``, one extra request),
response bytes, and PASS/FAIL against the target (p95 < 150 ms). Then adds 25 more scored audits in a
transaction that is rolled back and checks the query counts do not change (PASS/FAIL per page).

Run with ``make bench-pages`` or ``.venv/bin/python scripts/bench_pages.py [--runs 100] [--profile DIR]``
(``--profile`` writes a cProfile of the timed requests of each page). DATABASE_URL names the database (default
medgov_bench); it is created when missing and migrated. Exit status 1 when a target is missed.
"""

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data import ENDPOINTS, setup_django

TARGET_P95_MS = 150.0
EXTRA_AUDITS = 25


def pages(data) -> list[tuple[str, str, str]]:
    """(name, URL, username) of each measured page."""
    request = data.requests["approved_with_conditions"]
    audit = data.big_audit_id
    return [
        ("dashboard", "/dashboard/", "admin"),
        ("evidence", f"/requests/{request}/evidence/", "chair"),
        ("audit report", f"/audits/{audit}/", "aud"),
        ("results ?outcome=wrong", f"/audits/{audit}/results/?outcome=wrong", "aud"),
        ("request detail", f"/requests/{request}/", "alice"),
        # more pages the load test visits often
        ("results (no filter)", f"/audits/{audit}/results/", "aud"),
        ("audit list", "/audits/", "aud"),
        ("home (auditor)", "/", "aud"),
        ("home (IRB chair)", "/", "chair"),
        ("request list", "/requests/", "chair"),
        ("progress json", f"/audits/{audit}/progress.json", "aud"),
        ("item browser", f"/benchmark/items/?version={data.version_id}&page=120", "aud"),
        ("api audits", "/api/v1/audits/", "aud"),
        ("api requests", "/api/v1/deployment-requests/", "chair"),
    ]


def client_for(username: str):
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def get_ok(client, url: str):
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}")
    return response


def count_queries(client, url: str) -> tuple[int, float, list[dict]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        get_ok(client, url)
    queries = captured.captured_queries
    return len(queries), 1000 * sum(float(query["time"]) for query in queries), queries


def measure(name: str, url: str, username: str, runs: int, warmup: int, profile_dir: Path | None) -> dict:
    from benchmark.scoring import percentile

    client = client_for(username)
    for _ in range(warmup):
        response = get_ok(client, url)
    profiler = None
    if profile_dir is not None:
        import cProfile

        profiler = cProfile.Profile()
    timings = []
    for _ in range(runs):
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        response = get_ok(client, url)
        timings.append(1000 * (time.perf_counter() - started))
        if profiler:
            profiler.disable()
    if profiler:
        profile_dir.mkdir(parents=True, exist_ok=True)
        path = profile_dir / f"{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.prof"
        profiler.dump_stats(path)
    queries, sql_ms, _captured = count_queries(client, url)
    return {
        "page": name,
        "url": url,
        "user": username,
        "p50": statistics.median(timings),
        "p95": percentile(timings, 95),
        "max": max(timings),
        "queries": queries,
        "sql_ms": sql_ms,
        "bytes": len(response.content),
    }


def add_scored_audits(data, count: int) -> None:
    """More scored audits (copies of stored ones, dated earlier) for every benchmark endpoint; call in a
    transaction that is rolled back. Pages read ``Audit.summary`` only, so no item results are needed."""
    from datetime import timedelta

    from audits.models import Audit

    copies = []
    for index in range(count):
        name = ENDPOINTS[index % len(ENDPOINTS)][0]
        source = Audit.objects.get(pk=data.audits[name][index // len(ENDPOINTS) % len(data.audits[name])])
        shift = timedelta(days=1 + index % 300, hours=index)
        source.pk = None
        for field in ("created_at", "queued_at", "started_at", "finished_at", "last_progress_at", "scored_at"):
            setattr(source, field, getattr(source, field) - shift)
        copies.append(source)
    Audit.objects.bulk_create(copies)


class Rollback(Exception):
    pass


def query_counts_with_more_audits(data, rows: list[dict]) -> list[tuple[str, int, int, float]]:
    from django.db import transaction

    from audits.models import Audit

    found = []
    try:
        with transaction.atomic():
            before = Audit.objects.count()
            add_scored_audits(data, EXTRA_AUDITS)
            print(f"\n{Audit.objects.count()} audits instead of {before} (rolled back afterwards):")
            for row, (name, url, username) in zip(rows, pages(data), strict=True):
                client = client_for(username)
                get_ok(client, url)
                started = time.perf_counter()
                for _ in range(10):
                    get_ok(client, url)
                p50 = 1000 * (time.perf_counter() - started) / 10
                queries, _sql_ms, _captured = count_queries(client, url)
                found.append((name, row["queries"], queries, p50))
            raise Rollback
    except Rollback:
        pass
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--audits", type=int, default=50)
    parser.add_argument("--items", type=int, default=12000)
    parser.add_argument("--profile", type=Path, help="write a cProfile of each page's timed requests here")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of each page")
    args = parser.parse_args()

    setup_django()
    from bench_data import seed
    from django.conf import settings

    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    data = seed(n_audits=args.audits, items=args.items)

    rows = []
    for name, url, username in pages(data):
        rows.append(measure(name, url, username, args.runs, args.warmup, args.profile))
        if args.show_queries:
            _count, _ms, captured = count_queries(client_for(username), url)
            print(f"\n--- {name}: {url}")
            for query in captured:
                print(f"{float(query['time']) * 1000:7.1f} ms  {query['sql'][:400]}")

    print(f"\n{len(data.all_audits)} audits × {data.items} items; {args.runs} timed requests per page")
    header = f"{'page':<24} {'user':<6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8} {'sql ms':>7}"
    header += f" {'bytes':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['page']:<24} {row['user']:<6} {row['p50']:8.1f} {row['p95']:8.1f} {row['max']:8.1f} "
            f"{row['queries']:8d} {row['sql_ms']:7.1f} {row['bytes']:9d}"
        )
    print()
    failed = False
    for row in rows:
        ok = row["p95"] < TARGET_P95_MS
        failed |= not ok
        verdict = "PASS" if ok else "FAIL"
        print(f"{verdict}  {row['page']:<24} p95 {row['p95']:6.1f} ms  (target < {TARGET_P95_MS:.0f} ms p95)")

    counts = query_counts_with_more_audits(data, rows)
    print(f"{'page':<24} {'queries':>8} {f'+{EXTRA_AUDITS} audits':>11} {'p50 ms':>8}")
    for name, before, after, p50 in counts:
        print(f"{name:<24} {before:8d} {after:11d} {p50:8.1f}")
    for name, before, after, _p50 in counts:
        ok = before == after
        failed |= not ok
        verdict = "PASS" if ok else "FAIL"
        print(f"{verdict}  {name:<24} query count independent of the number of audits ({before} → {after})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
