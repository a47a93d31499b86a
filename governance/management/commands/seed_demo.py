from config.commands import MedGovCommand
from governance.demo import PASSWORD, seed_demo


class Command(MedGovCommand):
    help = "Seed the demo hospital (once). Needs the simulated endpoints running: hospital-qwen, vendor-chat, judge."

    def add_arguments(self, parser):
        parser.add_argument(
            "--endpoint",
            action="append",
            default=[],
            metavar="NAME=URL",
            help="e.g. hospital-qwen=http://127.0.0.1:8101/v1 (repeat for vendor-chat and judge)",
        )

    def handle(self, *args, **options):
        endpoints = {}
        for entry in options["endpoint"]:
            name, _, url = entry.partition("=")
            if not url:
                self.fail(f"--endpoint takes NAME=URL, got {entry!r}")
            endpoints[name] = url
        missing = {"hospital-qwen", "vendor-chat", "judge"} - set(endpoints)
        if missing:
            self.fail(f"missing --endpoint for: {', '.join(sorted(missing))}")
        if seed_demo(endpoints=endpoints, stdout=self.stdout):
            self.stdout.write(f"demo hospital ready; every demo account's password is {PASSWORD}")
        else:
            self.stdout.write("demo hospital already seeded")
