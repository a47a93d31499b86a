from pathlib import Path

from benchmark import services
from config.commands import MedGovCommand


class Command(MedGovCommand):
    help = "Import a safety-simulation scenario file (JSON Lines) as a new published version. All or nothing."

    def add_arguments(self, parser):
        parser.add_argument("path", help="a .jsonl file, UTF-8 with or without BOM")
        parser.add_argument("--suite", required=True, help="suite name (created if new)")
        parser.add_argument("--version", dest="label", help="version label (default: the next vN)")
        parser.add_argument("--notes", default="", help="recorded on the version, e.g. where the scenarios come from")
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        path = Path(options["path"])
        if not path.is_file():
            self.fail(f"no such file: {path}")
        try:
            with path.open("rb") as handle:
                version = services.scenario_version_import(
                    suite_name=options["suite"],
                    label=options["label"],
                    lines=handle,
                    filename=path.name,
                    notes=options["notes"],
                )
        except services.ImportFailed as failure:
            self.fail(failure.message, details=failure.details, problems=[str(p) for p in failure.problems])
        document = {
            "suite": version.suite.name,
            "version": version.label,
            "scenarios": version.scenario_count,
            "content_hash": version.content_hash,
        }
        if self.json_mode:
            self.emit_json(document)
        else:
            self.stdout.write(
                f"imported {version.suite.name} {version.label}: {version.scenario_count} scenarios, "
                f"content hash {version.content_hash}"
            )
