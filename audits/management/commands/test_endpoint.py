from audits import services
from audits.models import ModelEndpoint
from config.commands import MedGovCommand


class Command(MedGovCommand):
    help = "Send one tiny request to an endpoint: latency and reported model, or why it failed."

    def add_arguments(self, parser):
        parser.add_argument("name")
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        endpoint = ModelEndpoint.objects.filter(name=options["name"]).first()
        if endpoint is None:
            self.fail(f"no endpoint named {options['name']!r}")
        result = services.endpoint_test_connection(endpoint=endpoint)
        if self.json_mode:
            self.emit_json({"endpoint": endpoint.name, **result.as_dict()})
            if not result.ok:
                raise SystemExit(1)
            return
        if not result.ok:
            self.fail(f"{endpoint.name}: {result.reason}")
        self.stdout.write(f"{endpoint.name}: ok in {result.latency_ms:.0f} ms, model {result.model_reported}")
