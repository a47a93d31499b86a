"""Checks applied to uploaded benchmark and scenario files before they are parsed."""

from django.conf import settings
from django.utils.translation import gettext as _

from config.errors import ServiceError

ALLOWED_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".txt")


def check_upload(upload) -> None:
    """Refuse files that are too large, oddly named or binary; the name is never used as a path."""
    name = upload.name or ""
    if upload.size > settings.MEDGOV_MAX_BENCHMARK_UPLOAD_BYTES:
        raise ServiceError(
            _("The file is larger than the %(mb)d MB limit.")
            % {"mb": settings.MEDGOV_MAX_BENCHMARK_UPLOAD_BYTES // 2**20},
            code="too_large",
        )
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        raise ServiceError(_("Upload a .jsonl or .csv file."), code="bad_type")
    head = upload.read(4096)
    upload.seek(0)
    if b"\x00" in head:
        raise ServiceError(_("The file is binary, not UTF-8 text."), code="bad_type")
