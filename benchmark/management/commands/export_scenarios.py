import sys
from pathlib import Path

from benchmark import services
from benchmark.models import ScenarioVersion
from config.commands import MedGovCommand


class Command(MedGovCommand):
    help = "Export a scenario version as JSON Lines (re-importing it gives the same content hash)."

    def add_arguments(self, parser):
        parser.add_argument("--suite", required=True)
        parser.add_argument("--version", dest="label", required=True)
        parser.add_argument("-o", "--output", default="-")

    def handle(self, *args, **options):
        version = ScenarioVersion.objects.filter(suite__name=options["suite"], label=options["label"]).first()
        if version is None:
            self.fail(f"scenario suite {options['suite']!r} has no version {options['label']!r}")
        lines = services.scenario_version_jsonl_lines(version=version)
        if options["output"] == "-":
            sys.stdout.writelines(lines)
            return
        Path(options["output"]).write_text("".join(lines), encoding="utf-8")
