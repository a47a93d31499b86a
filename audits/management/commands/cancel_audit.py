from audits import services
from audits.models import Audit
from config.commands import MedGovCommand


class Command(MedGovCommand):
    help = "Cancel an audit: sending stops within seconds; results so far are kept."

    def add_arguments(self, parser):
        parser.add_argument("audit_id", type=int)
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        audit = Audit.objects.filter(pk=options["audit_id"]).first()
        if audit is None:
            self.fail(f"no audit {options['audit_id']}")
        audit = services.audit_cancel(audit=audit, reason="cancelled from the command line")
        if self.json_mode:
            self.emit_json({"audit": audit.pk, "status": audit.status})
        else:
            self.stdout.write(f"audit {audit.pk} cancelled")
