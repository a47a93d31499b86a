"""Shared behaviour of MedGov's management commands: one-line errors, a ``--json`` mode, and room
for options such as ``--version LABEL`` that clash with Django's built-in flags."""

import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from config.errors import ServiceError


class MedGovCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        # Django adds --version to every command; ours may redefine it (e.g. a benchmark version label).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_json_argument(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    def execute(self, *args, **options):
        self.json_mode = options.get("json", False)
        try:
            return super().execute(*args, **options)
        except ServiceError as exc:
            self.fail(exc.message, details=getattr(exc, "details", None))
        except ValidationError as exc:
            messages = (
                [f"{field}: {'; '.join(errors)}" for field, errors in exc.message_dict.items()]
                if hasattr(exc, "error_dict")
                else exc.messages
            )
            self.fail("; ".join(messages))

    def emit_json(self, document) -> None:
        self.stdout.write(json.dumps(document, ensure_ascii=False, default=str))

    def fail(self, message: str, *, details: list | None = None, problems: list[str] | None = None):
        """Report a refusal: one JSON document with --json, else the problems then one error line."""
        message = " ".join(str(message).split())
        if self.json_mode:
            self.emit_json({"error": message, "problems": details or []})
        else:
            for line in problems or []:
                sys.stderr.write(f"{line}\n")
        raise CommandError(message)
