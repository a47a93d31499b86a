import sys

from config.commands import MedGovCommand
from governance.events import verify_event_chain


class Command(MedGovCommand):
    help = "Recompute the event log's hash chain; exit 1 and name the first bad event if it was tampered with."

    def add_arguments(self, parser):
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        report = verify_event_chain()
        if self.json_mode:
            self.emit_json(report.__dict__)
        elif report.ok:
            self.stdout.write(f"event log intact: {report.checked} events verified")
        else:
            self.stderr.write(f"event log TAMPERED: {report.problem} ({report.checked} events verified before it)")
        if not report.ok:
            sys.exit(1)
