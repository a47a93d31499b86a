import json
from pathlib import Path

from audits.simulator import Profile, Simulator, serve
from config.commands import MedGovCommand


class Command(MedGovCommand):
    help = "Run the built-in OpenAI-compatible model simulator (demos, tests, benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
        parser.add_argument("--jitter", action="store_true", help="vary latency ±50%%")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--accuracy", type=float, help="probability of a correct answer (every dimension)")
        group.add_argument("--profile", help="JSON file: accuracy per dimension, refusal rates, safety, judge…")
        parser.add_argument("--model", help="model id the server reports")
        parser.add_argument("--seed", type=int, help="decides which items are answered correctly")
        parser.add_argument("--p429", type=float, default=0.0, help="share of requests answered 429")
        parser.add_argument("--p500", type=float, default=0.0, help="share of requests answered 500")
        parser.add_argument("--phang", type=float, default=0.0, help="share of requests that hang")
        parser.add_argument("--hang-seconds", type=float, default=3600.0)
        parser.add_argument("--api-key", help="require this bearer token")
        parser.add_argument("--no-db", action="store_true", help="do not read the benchmark from the database")
        parser.add_argument("--strict-model", action="store_true", help="answer 404 to requests for another model")

    def handle(self, *args, **options):
        data = {}
        if options["profile"]:
            path = Path(options["profile"])
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.fail(f"cannot read profile {path}: {exc}")
        if options["accuracy"] is not None:
            data["accuracy"] = options["accuracy"]
        if options["model"]:
            data["model"] = options["model"]
        if options["seed"] is not None:
            data["seed"] = options["seed"]
        try:
            profile = Profile.from_dict(data)
        except (TypeError, ValueError) as exc:
            self.fail(f"bad profile: {exc}")
        for name in ("p429", "p500", "phang"):
            if not 0 <= options[name] <= 1:
                self.fail(f"--{name} must be between 0 and 1")
        simulator = Simulator(
            profile,
            latency=options["latency"],
            jitter=options["jitter"],
            p429=options["p429"],
            p500=options["p500"],
            phang=options["phang"],
            hang_seconds=options["hang_seconds"],
            api_key=options["api_key"],
            load_from_db=not options["no_db"],
            strict_model=options["strict_model"],
        )
        self.stderr.write(f"simulator {profile.model} listening on http://{options['host']}:{options['port']}/v1")
        serve(simulator, options["host"], options["port"])
