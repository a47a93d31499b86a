from audits import services
from audits.models import Audit
from audits.reports import audit_report_document
from config.commands import MedGovCommand


class Command(MedGovCommand):
    help = "Re-parse an audit's stored raw answers with the current parser (no model calls) and re-score it."

    def add_arguments(self, parser):
        parser.add_argument("audit_id", type=int)
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        audit = Audit.objects.filter(pk=options["audit_id"]).first()
        if audit is None:
            self.fail(f"no audit {options['audit_id']}")
        audit = services.audit_rescore(audit=audit)
        if self.json_mode:
            self.emit_json(audit_report_document(audit))
        else:
            self.stdout.write(f"audit {audit.pk} re-scored with parser {audit.parser_version}")
