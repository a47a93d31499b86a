from audits import services
from config.commands import MedGovCommand


class Command(MedGovCommand):
    help = "Register (or update) a model endpoint. The API key is read from an environment variable, never an argument."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--base-url", help="e.g. http://vllm.internal:8000/v1")
        parser.add_argument("--model")
        parser.add_argument("--api-key-env", help="name of the environment variable holding the API key")
        parser.add_argument(
            "--store-key",
            action="store_true",
            help="store the key from --api-key-env encrypted in the database instead of the name",
        )
        parser.add_argument("--max-concurrency", type=int)
        parser.add_argument("--rpm", type=int, help="requests per minute, across all workers")
        parser.add_argument("--timeout", type=float, help="seconds per request")
        parser.add_argument("--max-retries", type=int)
        parser.add_argument("--temperature", type=float)
        parser.add_argument("--max-tokens", type=int)
        parser.add_argument("--seed", type=int)
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        import os

        api_key = api_key_env = None
        if options["api_key_env"]:
            if options["store_key"]:
                api_key = os.environ.get(options["api_key_env"])
                if api_key is None:
                    self.fail(f"environment variable {options['api_key_env']} is not set")
            else:
                api_key_env = options["api_key_env"]
        for name in ("max_concurrency", "rpm", "max_retries", "max_tokens"):
            if options[name] is not None and options[name] < (0 if name == "max_retries" else 1):
                self.fail(f"--{name.replace('_', '-')} must be positive")
        if options["timeout"] is not None and options["timeout"] <= 0:
            self.fail("--timeout must be positive")
        fields = {
            "base_url": options["base_url"],
            "model": options["model"],
            "max_concurrency": options["max_concurrency"],
            "requests_per_minute": options["rpm"],
            "timeout_s": options["timeout"],
            "max_retries": options["max_retries"],
            "temperature": options["temperature"],
            "max_tokens": options["max_tokens"],
            "seed": options["seed"],
        }
        endpoint, created = services.endpoint_register(
            name=options["name"],
            api_key=api_key,
            api_key_env=api_key_env,
            **{key: value for key, value in fields.items() if value is not None},
        )
        document = {
            "endpoint": endpoint.name,
            "id": endpoint.pk,
            "created": created,
            "base_url": endpoint.base_url,
            "model": endpoint.model,
            "max_concurrency": endpoint.max_concurrency,
            "requests_per_minute": endpoint.requests_per_minute,
            "timeout_s": endpoint.timeout_s,
            "max_retries": endpoint.max_retries,
            "has_api_key": endpoint.has_api_key,
        }
        if self.json_mode:
            self.emit_json(document)
        else:
            verb = "registered" if created else "updated"
            self.stdout.write(
                f"{verb} endpoint {endpoint.name} (id {endpoint.pk}): {endpoint.model} at {endpoint.base_url}"
            )
