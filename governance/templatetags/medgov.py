from django import template
from django.utils.html import format_html

register = template.Library()

STATUS_CLASSES = {
    "pass": {"active", "approved", "completed", "published", "effective", "met", "renewed", "closed_ok"},
    "fail": {"disapproved", "suspended", "terminated", "failed", "breached", "expired", "cancelled"},
    "warn": {
        "clarification_requested",
        "modifications_required",
        "continuing_review_due",
        "completed_with_errors",
        "deferred",
        "open",
        "scheduled",
    },
    "info": {
        "submitted",
        "screening",
        "auditing",
        "expedited_review",
        "full_board_review",
        "queued",
        "running",
        "in_session",
    },
}


@register.filter
def status_class(value) -> str:
    for css, values in STATUS_CLASSES.items():
        if str(value) in values:
            return css
    return "neutral"


@register.simple_tag
def status_pill(value, label=None):
    return format_html('<span class="pill {}">{}</span>', status_class(value), label or value)


@register.filter
def pct(value, digits=1) -> str:
    if value is None or value == "":
        return "—"
    return f"{100 * float(value):.{int(digits)}f}%"


@register.filter
def num(value, digits=3) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value):.{int(digits)}f}"


@register.filter
def short_hash(value) -> str:
    return f"{value[:12]}…" if value else "—"


@register.filter
def get(mapping, key):
    if not mapping:
        return None
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.simple_tag
def pass_fail(passed):
    if passed is None:
        return format_html('<span class="pill neutral">{}</span>', "—")
    from django.utils.translation import gettext as _

    return format_html(
        '<span class="pill {}">{}</span>', "pass" if passed else "fail", _("pass") if passed else _("fail")
    )
