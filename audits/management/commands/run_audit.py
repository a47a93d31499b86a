import time

from django.utils import timezone

from audits import services
from audits.models import Audit, ModelEndpoint
from audits.reports import audit_report_document
from benchmark.models import BenchmarkSuite, ScenarioSuite
from config.commands import MedGovCommand

NO_WORKER_GRACE_S = 20


def workers_answering(timeout: float = 2.0) -> list[str]:
    from config.celery import app

    try:
        replies = app.control.ping(timeout=timeout)
    except Exception:
        return []
    return [name for reply in replies for name in reply]


class Command(MedGovCommand):
    help = "Queue an audit of an endpoint on a suite's version for the Celery workers; --wait follows it to the end."

    def add_arguments(self, parser):
        parser.add_argument("--endpoint", required=True)
        parser.add_argument("--suite", required=True, help="a benchmark suite or a scenario suite")
        parser.add_argument("--version", dest="label", help="version label (default: the latest published)")
        parser.add_argument("--dimensions", help="comma-separated dimension codes (default: all)")
        parser.add_argument("--sample", type=int, help="audit a stratified sample of this many items")
        parser.add_argument("--sample-seed", type=int, default=0)
        parser.add_argument("--shuffle-seed", type=int, help="shuffle options with this seed")
        parser.add_argument("--variants", help="comma-separated adversarial variants, e.g. authority_v2,translate_v2")
        parser.add_argument("--judge", help="endpoint that judges simulations (and translates)")
        parser.add_argument("--wait", action="store_true", help="wait for the end, showing progress on stderr")
        parser.add_argument("--timeout", type=float, default=0, help="with --wait: give up after this many seconds")
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        endpoint = ModelEndpoint.objects.filter(name=options["endpoint"]).first()
        if endpoint is None:
            self.fail(f"no endpoint named {options['endpoint']!r} (register it with register_endpoint)")
        judge = None
        if options["judge"]:
            judge = ModelEndpoint.objects.filter(name=options["judge"]).first()
            if judge is None:
                self.fail(f"no endpoint named {options['judge']!r}")
        kwargs = {}
        suite = BenchmarkSuite.objects.filter(name=options["suite"]).first()
        scenario_suite = None if suite else ScenarioSuite.objects.filter(name=options["suite"]).first()
        if suite is None and scenario_suite is None:
            self.fail(f"no suite named {options['suite']!r}")
        owner = suite or scenario_suite
        if options["label"]:
            version = owner.versions.filter(label=options["label"]).first()
            if version is None:
                self.fail(f"suite {owner.name!r} has no version {options['label']!r}")
        else:
            version = owner.latest_published_version()
            if version is None:
                self.fail(f"suite {owner.name!r} has no published version")
        kwargs["benchmark_version" if suite else "scenario_version"] = version
        if options["wait"] and not workers_answering():
            self.fail("no Celery worker answered; start one with: .venv/bin/celery -A config worker")
        audit = services.audit_create_and_queue(
            endpoint=endpoint,
            judge_endpoint=judge,
            dimension_codes=[code.strip() for code in (options["dimensions"] or "").split(",") if code.strip()],
            sample_size=options["sample"],
            sample_seed=options["sample_seed"],
            shuffle_seed=options["shuffle_seed"],
            variant_codes=[code.strip() for code in (options["variants"] or "").split(",") if code.strip()],
            **kwargs,
        )
        if options["wait"]:
            audit = self._wait(audit, options["timeout"])
        document = audit_report_document(audit)
        if self.json_mode:
            self.emit_json(document)
        else:
            self._print(document, audit)
        if audit.status in (Audit.Status.FAILED, Audit.Status.CANCELLED):
            raise SystemExit(1)

    def _wait(self, audit: Audit, timeout: float) -> Audit:
        started = time.monotonic()
        last_line = ""
        while True:
            audit.refresh_from_db()
            if audit.is_terminal and audit.scored_at:
                break
            if audit.status == Audit.Status.QUEUED and time.monotonic() - started > NO_WORKER_GRACE_S:
                if not workers_answering():
                    self.fail(f"audit {audit.pk} is still queued and no Celery worker answers; it stays queued")
                started = time.monotonic()
            if timeout and time.monotonic() - started > timeout:
                self.fail(f"audit {audit.pk} did not finish within {timeout:g} s (it continues in the background)")
            line = self._progress_line(audit)
            if line != last_line:
                self.stderr.write(line)
                last_line = line
            time.sleep(0.5)
        self.stderr.write(self._progress_line(audit))
        return audit

    @staticmethod
    def _progress_line(audit: Audit) -> str:
        from audits.reports import progress

        info = progress(audit)
        parts = [f"audit {audit.pk} {audit.status}", f"{info['done']}/{info['total']}"]
        if info["rate_per_s"]:
            parts.append(f"{info['rate_per_s']}/s")
        if info["eta_s"] is not None:
            parts.append(f"eta {info['eta_s']}s")
        if info["errors"]:
            parts.append(f"errors {info['errors']}")
        return "  ".join(parts) + f"  [{timezone.localtime():%H:%M:%S}]"

    def _print(self, document: dict, audit: Audit) -> None:
        self.stdout.write(
            f"audit {document['audit']}: {document['status']} — {document['endpoint']} on "
            f"{document['suite']} {document['version']} ({document['content_hash'][:12]}…)"
        )
        if audit.failure_reason:
            self.stdout.write(f"reason: {audit.failure_reason}")
        overall = document["overall"]
        if overall and overall["n"]:
            self.stdout.write(
                f"overall accuracy {overall['accuracy']:.3f} (95% CI {overall['ci_low']:.3f}–{overall['ci_high']:.3f}, "
                f"n={overall['n']}, errors={overall['errors']})"
            )
