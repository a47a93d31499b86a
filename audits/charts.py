"""Server-rendered SVG charts: no JavaScript, printable, and readable without colour.

Colours are Okabe–Ito (colour-blind safe); pass and fail also differ in marker shape (circle vs.
triangle) and carry a text mark, so nothing depends on colour alone. Every chart has a <title> and
<desc>, and each mark a <title> tooltip; pages also show the same numbers in a table.
"""

from dataclasses import dataclass
from datetime import datetime
from html import escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

PASS, FAIL, NEUTRAL, GRID, INK, MUTED = "#0072B2", "#D55E00", "#6b7280", "#e5e7eb", "#1b2430", "#5a6472"
SERIES = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


@dataclass(frozen=True)
class ChartRow:
    key: str
    label: str
    accuracy: float | None
    low: float | None
    high: float | None
    n: int
    threshold: float | None = None
    previous: float | None = None
    delta_mark: str = ""  # "▲" / "▼" significant change, "" otherwise

    @property
    def passed(self) -> bool | None:
        if self.threshold is None or self.low is None:
            return None
        return self.low >= self.threshold


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def dimension_chart(rows: list[ChartRow], *, title: str, width: int = 760) -> SafeString:
    """Accuracy with 95% Wilson whiskers per row, against each row's policy threshold (dashed tick)."""
    label_w, right_w, row_h, top, bottom = 250, 110, 24, 34, 30
    plot_w = width - label_w - right_w
    height = top + bottom + row_h * len(rows)

    def x(value: float) -> float:
        return label_w + plot_w * max(0.0, min(1.0, value))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="t-{id(rows)} d-{id(rows)}" font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="t-{id(rows)}">{escape(title)}</title>',
        f'<desc id="d-{id(rows)}">{escape(_("Accuracy per dimension with 95% confidence intervals; dashed ticks mark the policy threshold on the lower bound."))}</desc>',
    ]
    for tick in range(0, 11, 2):
        tx = x(tick / 10)
        out.append(f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{height - bottom}" stroke="{GRID}"/>')
        out.append(f'<text x="{tx:.1f}" y="{top - 12}" text-anchor="middle" fill="{MUTED}">{tick * 10}%</text>')
    for index, row in enumerate(rows):
        cy = top + row_h * index + row_h / 2
        if index % 2 == 0:
            out.append(f'<rect x="0" y="{cy - row_h / 2:.1f}" width="{width}" height="{row_h}" fill="#f7f9fb"/>')
        out.append(
            f'<text x="{label_w - 8}" y="{cy + 4:.1f}" text-anchor="end" fill="{INK}">{escape(row.label[:38])}</text>'
        )
        if row.threshold is not None:
            tx = x(row.threshold)
            out.append(
                f'<line x1="{tx:.1f}" y1="{cy - 9:.1f}" x2="{tx:.1f}" y2="{cy + 9:.1f}" stroke="{INK}" '
                f'stroke-width="2" stroke-dasharray="3 2"><title>{escape(_("threshold"))} {_pct(row.threshold)}</title></line>'
            )
        if row.accuracy is None:
            out.append(f'<text x="{label_w + 4}" y="{cy + 4:.1f}" fill="{MUTED}">{escape(_("no data"))}</text>')
            continue
        status = row.passed
        colour = NEUTRAL if status is None else (PASS if status else FAIL)
        if row.low is not None and row.high is not None:
            out.append(
                f'<line x1="{x(row.low):.1f}" y1="{cy:.1f}" x2="{x(row.high):.1f}" y2="{cy:.1f}" stroke="{colour}" stroke-width="2"/>'
            )
            for end in (row.low, row.high):
                out.append(
                    f'<line x1="{x(end):.1f}" y1="{cy - 5:.1f}" x2="{x(end):.1f}" y2="{cy + 5:.1f}" stroke="{colour}" stroke-width="2"/>'
                )
        if row.previous is not None:
            out.append(
                f'<circle cx="{x(row.previous):.1f}" cy="{cy:.1f}" r="4" fill="none" stroke="{MUTED}" stroke-width="1.5">'
                f"<title>{escape(_('previous audit'))} {_pct(row.previous)}</title></circle>"
            )
        tooltip = escape(f"{row.label}: {_pct(row.accuracy)} (95% CI {_pct(row.low)}–{_pct(row.high)}, n={row.n})")
        px = x(row.accuracy)
        if status is False:
            out.append(
                f'<path d="M{px:.1f},{cy - 6:.1f} L{px + 6:.1f},{cy + 5:.1f} L{px - 6:.1f},{cy + 5:.1f} Z" fill="{colour}"><title>{tooltip}</title></path>'
            )
        else:
            out.append(f'<circle cx="{px:.1f}" cy="{cy:.1f}" r="5.5" fill="{colour}"><title>{tooltip}</title></circle>')
        mark = "" if status is None else ("✓" if status else "✗")
        text = f"{_pct(row.accuracy)} {mark} {row.delta_mark}".strip()
        out.append(
            f'<text x="{width - right_w + 8}" y="{cy + 4:.1f}" fill="{colour if status is not None else INK}" '
            f'font-weight="600">{escape(text)}</text>'
        )
    legend_y = height - 10
    out.append(
        f'<g fill="{MUTED}"><circle cx="{label_w}" cy="{legend_y - 4}" r="5" fill="{PASS}"/>'
        f'<text x="{label_w + 9}" y="{legend_y}">{escape(_("meets threshold"))}</text>'
        f'<path d="M{label_w + 130},{legend_y - 10} L{label_w + 136},{legend_y + 1} L{label_w + 124},{legend_y + 1} Z" fill="{FAIL}"/>'
        f'<text x="{label_w + 141}" y="{legend_y}">{escape(_("below threshold"))}</text>'
        f'<circle cx="{label_w + 270}" cy="{legend_y - 4}" r="4" fill="none" stroke="{MUTED}"/>'
        f'<text x="{label_w + 279}" y="{legend_y}">{escape(_("previous audit"))}</text></g>'
    )
    out.append("</svg>")
    return mark_safe("".join(out))


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[datetime, float]]


def trend_chart(series: list[Series], *, title: str, width: int = 760, height: int = 240) -> SafeString:
    """Accuracy over time, one line per series (system or endpoint)."""
    left, right, top, bottom = 44, 16, 16, 54
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [point for one in series for point in one.points]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'font-family="system-ui, sans-serif" font-size="11"><title>{escape(title)}</title>'
    ]
    for tick in range(0, 11, 2):
        ty = top + plot_h * (1 - tick / 10)
        out.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" fill="{MUTED}">{tick * 10}%</text>')
    if not points:
        out.append(
            f'<text x="{left + 10}" y="{top + 20}" fill="{MUTED}">{escape(_("No scored audits yet."))}</text></svg>'
        )
        return mark_safe("".join(out))
    start = min(when for when, _value in points).timestamp()
    end = max(when for when, _value in points).timestamp()
    span = max(end - start, 86400.0)

    def position(when: datetime, value: float) -> tuple[float, float]:
        return left + plot_w * (when.timestamp() - start) / span, top + plot_h * (1 - value)

    for index, one in enumerate(series):
        colour = SERIES[index % len(SERIES)]
        coords = [position(when, value) for when, value in sorted(one.points)]
        if len(coords) > 1:
            path = " ".join(f"{'M' if i == 0 else 'L'}{cx:.1f},{cy:.1f}" for i, (cx, cy) in enumerate(coords))
            out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (when, value), (cx, cy) in zip(sorted(one.points), coords, strict=True):
            marker = (
                f'<rect x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" height="8" fill="{colour}">'
                if index % 2
                else f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{colour}">'
            )
            closing = "</rect>" if index % 2 else "</circle>"
            out.append(f"{marker}<title>{escape(one.label)} {when:%Y-%m-%d}: {_pct(value)}</title>{closing}")
        ly = height - bottom + 30 + 0 * index
        lx = left + index * 190
        out.append(
            f'<rect x="{lx}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{ly + 1}" fill="{INK}">{escape(one.label[:26])}</text>'
        )
    first, last = datetime.fromtimestamp(start), datetime.fromtimestamp(start + span)
    out.append(f'<text x="{left}" y="{height - bottom + 14}" fill="{MUTED}">{first:%Y-%m-%d}</text>')
    out.append(
        f'<text x="{width - right}" y="{height - bottom + 14}" text-anchor="end" fill="{MUTED}">{last:%Y-%m-%d}</text>'
    )
    out.append("</svg>")
    return mark_safe("".join(out))
