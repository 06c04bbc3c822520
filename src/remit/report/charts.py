"""Charts as inline SVG, drawn on the server (no script, no external asset): a stacked bar
per day by tier, each bar linking to the decisions behind it. Every label is escaped."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

TIER_COLOURS = {
    "autonomous": "#2e7d32",
    "notify": "#1565c0",
    "approve": "#ef6c00",
    "deny": "#c62828",
}


def stacked_bars(
    days: Sequence[str],
    counts: Mapping[str, Mapping[str, int]],
    link: Callable[[str, str], str],
    width: int = 720,
    height: int = 180,
) -> Markup:
    """One bar per day, stacked by tier; `link(day, tier)` is where a segment leads."""
    if not days:
        return Markup("")
    top = max((sum(counts.get(d, {}).values()) for d in days), default=0) or 1
    slot = width / len(days)
    bar = max(1.0, slot * 0.8)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height + 20}" '
        f'width="100%" aria-label="decisions per day by tier">'
    ]
    for i, day in enumerate(days):
        y = float(height)
        for tier, colour in TIER_COLOURS.items():
            n = counts.get(day, {}).get(tier, 0)
            if not n:
                continue
            h = n / top * height
            y -= h
            title = escape(f"{day}: {n} {tier}")
            parts.append(
                f'<a href="{escape(link(day, tier))}"><rect x="{i * slot:.1f}" y="{y:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{colour}"><title>{title}</title>'
                "</rect></a>"
            )
    parts.append(
        f'<text x="0" y="{height + 15}" font-size="11">{escape(days[0])}</text>'
        f'<text x="{width}" y="{height + 15}" font-size="11" text-anchor="end">'
        f'{escape(days[-1])}</text><text x="2" y="11" font-size="11">max {top}/day</text></svg>'
    )
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
