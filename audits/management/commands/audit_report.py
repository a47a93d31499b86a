from audits.models import Audit
from audits.reports import audit_report_document
from config.commands import MedGovCommand


class Command(MedGovCommand):
    help = "Print an audit's scores: overall, per category and per dimension, with Wilson 95% intervals."

    def add_arguments(self, parser):
        parser.add_argument("audit_id", type=int)
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        audit = (
            Audit.objects.select_related("endpoint", "benchmark_version__suite", "scenario_version__suite")
            .filter(pk=options["audit_id"])
            .first()
        )
        if audit is None:
            self.fail(f"no audit {options['audit_id']}")
        document = audit_report_document(audit)
        if self.json_mode:
            self.emit_json(document)
            return
        self.stdout.write(
            f"audit {audit.pk} {audit.status}: {document['endpoint']} ({document['model']}) on "
            f"{document['suite']} {document['version']}"
        )
        header = f"{'scope':<36}{'n':>7}{'acc':>8}{'95% CI':>18}{'refused':>9}{'unparse':>9}{'errors':>8}"
        self.stdout.write(header)
        rows = [
            ("overall", document["overall"]),
            *sorted(document["categories"].items()),
            *sorted(document["dimensions"].items()),
        ]
        for name, scores in rows:
            if not scores or not scores["n"]:
                self.stdout.write(f"{name:<36}{0:>7}{'—':>8}")
                continue
            interval = f"{scores['ci_low']:.3f}–{scores['ci_high']:.3f}"
            self.stdout.write(
                f"{name:<36}{scores['n']:>7}{scores['accuracy']:>8.3f}{interval:>18}{scores['refused']:>9}"
                f"{scores['unparseable']:>9}{scores['errors']:>8}"
            )
