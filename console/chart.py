"""The Overview's activity chart, drawn on the server as SVG: stacked bars per day of members and groups
created, updated, deactivated and deleted, one chart per IdP. No script, so it passes the console's CSP."""

from markupsafe import Markup, escape

KINDS = ("created", "updated", "deactivated", "deleted")
WIDTH, HEIGHT = 720, 190
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 10, 26


def _nice_max(value):
    """Return a round axis maximum at or above `value` (1, 2, 5 × 10^n), at least 4."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * 4 >= value:
                return step * factor * 4
        step *= 10


def activity_svg(days, counts, title):
    """Return the SVG markup of one chart: `days` are ISO dates, `counts` {kind: [count per day]}."""
    totals = [sum(counts[k][i] for k in KINDS) for i in range(len(days))]
    top = _nice_max(max(totals or [0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.68, 1)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i in range(5):
        value = top * i // 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>')
    for i, label in enumerate(days):
        x = LEFT + slot * i + (slot - bar) / 2
        y = TOP + plot_h
        for kind in KINDS:
            n = counts[kind][i]
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(f'<rect class="bar {kind}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                         f'<title>{label}: {n} {kind}</title></rect>')
        if i % 7 == 0 or (i == len(days) - 1 and i % 7 >= 4):
            parts.append(f'<text class="axis" x="{x + bar / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                         f'{label[5:]}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def activity_charts(report):
    """Return [(IdP label, total, svg)] for the activity report, busiest first."""
    charts = []
    for idp, counts in report["series"].items():
        label = idp or "Console, admin API and other clients"
        total = sum(sum(values) for values in counts.values())
        charts.append((label, total, activity_svg(report["days"], counts,
                                                  f"{label}: provisioning per day, last {len(report['days'])} days")))
    return sorted(charts, key=lambda c: -c[1])
