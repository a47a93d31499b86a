"""The compliance dashboard (views): institution-wide inventory, approvals, conditions, incidents and scores.

Only compliance administrators and superusers see it; everyone else gets 404 from the selectors.
"""

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from audits.charts import Series, trend_chart
from governance import dashboard_selectors

CSV_HEADER = [
    "name",
    "department",
    "vendor",
    "model",
    "hosting",
    "risk_tier",
    "status",
    "latest_audit_id",
    "latest_overall_accuracy",
    "ci_low",
    "ci_high",
    "audit_finished_at",
    "approval_reference",
    "approval_status",
    "expires_at",
    "open_conditions",
    "open_incidents",
]
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@login_required
def dashboard(request):
    overview = dashboard_selectors.dashboard_overview(user=request.user)
    charts = [
        {
            "trend": trend,
            "svg": trend_chart(
                [Series(trend.system_name, trend.points)],
                title=_("Overall accuracy of %(system)s over time") % {"system": trend.system_name},
            ),
        }
        for trend in overview.trends
    ]
    return render(request, "governance/dashboard.html", {"overview": overview, "charts": charts})


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value else "0"
    if hasattr(value, "isoformat"):
        return timezone.localtime(value).isoformat()
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_PREFIXES) else text


@login_required
def dashboard_csv(request):
    rows = dashboard_selectors.dashboard_system_rows(user=request.user)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="medgov-ai-systems-{stamp}.csv"'
    # The byte-order mark tells spreadsheet software the file is UTF-8, so Chinese names survive.
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for row in rows:
        system, score, approval = row.system, row.score, row.approval
        writer.writerow(
            [
                _cell(value)
                for value in (
                    system.name,
                    system.owner_department.name,
                    system.vendor,
                    " ".join(part for part in (system.model_name, system.model_version) if part),
                    system.hosting,
                    system.risk_tier,
                    system.status,
                    score.audit_id,
                    score.accuracy,
                    score.ci_low,
                    score.ci_high,
                    score.finished_at,
                    approval.reference if approval else None,
                    approval.status if approval else None,
                    approval.expires_at if approval else None,
                    row.open_conditions,
                    row.open_incidents,
                )
            ]
        )
    return response
