import sys
from pathlib import Path

from benchmark import services
from benchmark.models import BenchmarkVersion
from config.commands import MedGovCommand


class Command(MedGovCommand):
    help = "Export a benchmark version as JSON Lines (re-importing it gives the same content hash)."

    def add_arguments(self, parser):
        parser.add_argument("--suite", required=True)
        parser.add_argument("--version", dest="label", required=True, help="version label")
        parser.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")

    def handle(self, *args, **options):
        try:
            version = BenchmarkVersion.objects.select_related("suite").get(
                suite__name=options["suite"], label=options["label"]
            )
        except BenchmarkVersion.DoesNotExist:
            self.fail(f"suite {options['suite']!r} has no version {options['label']!r}")
        if options["output"] == "-":
            services.benchmark_version_export(version=version, out=sys.stdout)
            return
        path = Path(options["output"])
        with path.open("w", encoding="utf-8") as out:
            count = services.benchmark_version_export(version=version, out=out)
        self.stderr.write(f"wrote {count} items of {version} to {path}")
