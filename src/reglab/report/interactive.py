"""The HTML report's interactive figure: the learning curves as inline SVG.

Hovering a point shows its values (an SVG ``<title>`` per point: the browser's own tooltip,
no script needed); clicking an arm's button in the legend hides or shows every series of
that arm (:data:`SCRIPT`, a few lines inlined in the page and allowed by the page's
Content-Security-Policy through its hash, :func:`script_hash`). Nothing is fetched: the
markup, the style and the script are all in ``report.html``. ``report.md`` keeps the static
PNG of :func:`reglab.report.plots.learning_curves` (same data, same colours).

Every name that comes from the store (an arm) is escaped with :func:`html.escape`; numbers
are formatted here. Epochs on the x axis count from 1 (:func:`reglab._epochs.shown_epoch`).
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from html import escape

from reglab._epochs import shown_epoch
from reglab.report.i18n import t
from reglab.report.plots import _CURVE_PANELS, _arm_colours, _band

__all__ = ["SCRIPT", "script_hash", "learning_curves_svg"]

# clicking an arm's button hides (or shows again) the series of that arm in its figure
SCRIPT = """(function () {
  document.querySelectorAll("button.arm-toggle").forEach(function (button) {
    button.addEventListener("click", function () {
      var shown = button.getAttribute("aria-pressed") !== "false";
      var arm = button.getAttribute("data-arm");
      button.setAttribute("aria-pressed", shown ? "false" : "true");
      button.closest("figure").querySelectorAll("svg [data-arm]").forEach(function (g) {
        if (g.getAttribute("data-arm") === arm) { g.style.display = shown ? "none" : ""; }
      });
    });
  });
})();"""

STYLE = """button.arm-toggle { font: inherit; font-size: .85em; margin: 0 .4em .4em 0; padding: .15em .6em; border: 1px solid #bbb; border-radius: 3px; background: #fff; cursor: pointer; }
button.arm-toggle[aria-pressed="false"] { opacity: .45; text-decoration: line-through; }
button.arm-toggle span { display: inline-block; width: 1.6em; height: .35em; margin-right: .4em; vertical-align: middle; }
svg.curves { width: 100%; height: auto; display: block; font-size: 11px; }
svg.curves circle.pt { fill-opacity: .85; } svg.curves circle.pt:hover { stroke: #000; stroke-width: 1.5; }"""

PANEL_W, PANEL_H = 560, 300        # one panel, in SVG units; the figure is 2 x 2 panels
LEFT, RIGHT, TOP, BOTTOM = 62, 12, 26, 40


def script_hash() -> str:
    """The CSP source that allows exactly :data:`SCRIPT` inline: ``'sha256-...'``."""
    digest = hashlib.sha256(SCRIPT.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _num(v: float) -> str:
    return f"{v:.4g}"


def _scale(values: Sequence[float]):
    """(to_y, ticks, log) for the panel's finite values: log when they span > 30x (as the PNG)."""
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        vals = [0.0, 1.0]
    lo, hi = min(vals), max(vals)
    log = lo > 0 and hi / lo > 30
    f = math.log10 if log else (lambda v: v)
    a, b = f(lo), f(hi)
    if b - a < 1e-12:
        a, b = a - 0.5, b + 0.5
    pad = 0.05 * (b - a)
    a, b = a - pad, b + pad
    top, height = TOP, PANEL_H - TOP - BOTTOM

    def to_y(v: float) -> float:
        return top + height * (1 - (f(v) - a) / (b - a))

    if log:
        ticks = [10.0 ** k for k in range(math.ceil(a), math.floor(b) + 1)]
    else:
        ticks = [a + (b - a) * i / 4 for i in range(5)]
    return to_y, ticks, log


def _x(epoch_index: int, n: int) -> float:
    width = PANEL_W - LEFT - RIGHT
    return LEFT + (width * epoch_index / (n - 1) if n > 1 else width / 2)


def _segments(points: list[tuple[float, float] | None]) -> list[str]:
    """Polyline point lists, split where a value is missing (NaN)."""
    out, cur = [], []
    for p in points:
        if p is None:
            if len(cur) > 1:
                out.append(" ".join(cur))
            cur = []
        else:
            cur.append(f"{p[0]:.1f},{p[1]:.1f}")
    if len(cur) > 1:
        out.append(" ".join(cur))
    return out


def _panel(key: str, title: str, curves, stops, colours, lang: str) -> list[str]:
    """One panel's SVG elements (in panel coordinates)."""
    bands = {arm: _band(cur.get(key) or []) for arm, cur in curves.items()
             if cur.get(key) and any(len(c) for c in cur[key])}
    n = max((len(b[0]) for b in bands.values()), default=1)
    to_y, ticks, log = _scale([v for m, lo, hi in bands.values() for v in (*lo, *hi)])
    what = t(f"plot.curves.{title}", lang)
    out = [f'<rect x="{LEFT}" y="{TOP}" width="{PANEL_W - LEFT - RIGHT}" '
           f'height="{PANEL_H - TOP - BOTTOM}" fill="#fff" stroke="#999"/>',
           f'<text x="{PANEL_W / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">'
           f'{escape(what)}</text>',
           f'<text x="{(LEFT + PANEL_W - RIGHT) / 2:.0f}" y="{PANEL_H - 6}" '
           f'text-anchor="middle">{escape(t("plot.curves.epoch", lang))}</text>']
    for v in ticks:
        y = to_y(v)
        out.append(f'<line x1="{LEFT}" x2="{PANEL_W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#e4e4e4"/><text x="{LEFT - 4}" y="{y + 4:.1f}" '
                   f'text-anchor="end">{_num(v)}</text>')
    step = max(1, math.ceil(n / 10))
    for i in range(0, n, step):
        x = _x(i, n)
        out.append(f'<text x="{x:.1f}" y="{PANEL_H - BOTTOM + 14}" text-anchor="middle">'
                   f'{shown_epoch(i)}</text>')
    for arm, (mean, lo, hi) in bands.items():
        colour, seeds = colours[arm], len(curves[arm][key])
        name = escape(arm)
        pts = [(_x(i, n), to_y(v)) if math.isfinite(v) else None for i, v in enumerate(mean)]
        g = [f'<g class="series" data-arm="{name}">']
        up = [(_x(i, n), to_y(v)) for i, v in enumerate(hi) if math.isfinite(v)]
        down = [(_x(i, n), to_y(v)) for i, v in enumerate(lo) if math.isfinite(v)][::-1]
        if len(up) > 1 and seeds > 1:
            ring = " ".join(f"{x:.1f},{y:.1f}" for x, y in up + down)
            g.append(f'<polygon points="{ring}" fill="{colour}" fill-opacity="0.10" '
                     f'stroke="none"/>')
        dash = ' stroke-dasharray="6 4"' if arm == "none" else ""
        for seg in _segments(pts):
            g.append(f'<polyline points="{seg}" fill="none" stroke="{colour}" '
                     f'stroke-width="1.6"{dash}/>')
        for i, p in enumerate(pts):
            if p is None:
                continue
            tip = t("plot.curves.point", lang, arm=arm, epoch=shown_epoch(i), what=what,
                    value=_num(mean[i]))
            if seeds > 1:
                tip += t("plot.curves.point_range", lang, lo=_num(lo[i]), hi=_num(hi[i]),
                         n=seeds)
            g.append(f'<circle class="pt" cx="{p[0]:.1f}" cy="{p[1]:.1f}" r="2.6" '
                     f'fill="{colour}"><title>{escape(tip)}</title></circle>')
        if key.startswith("val"):
            g += _stop_marks(arm, mean, stops.get(arm, []), n, to_y, colour, what, lang)
        g.append("</g>")
        out += g
    return out


def _stop_marks(arm, mean, stops, n, to_y, colour, what, lang) -> list[str]:
    """Each seed's best epoch (a dot with a black ring) and early stop (a cross)."""
    out = []
    for best, stopped in stops:
        if 0 <= best < len(mean) and math.isfinite(mean[best]):
            x, y = _x(best, n), to_y(mean[best])
            tip = t("plot.curves.best_point", lang, arm=arm, epoch=shown_epoch(best),
                    what=what, value=_num(mean[best]))
            out.append(f'<circle class="best" cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}" '
                       f'stroke="#000" stroke-width="1"><title>{escape(tip)}</title></circle>')
        if stopped is not None and 0 <= stopped < len(mean) and math.isfinite(mean[stopped]):
            x, y = _x(stopped, n), to_y(mean[stopped])
            tip = t("plot.curves.stop_point", lang, arm=arm, epoch=shown_epoch(stopped))
            out.append(f'<path class="stop" d="M{x - 5:.1f},{y - 5:.1f}L{x + 5:.1f},{y + 5:.1f}'
                       f'M{x - 5:.1f},{y + 5:.1f}L{x + 5:.1f},{y - 5:.1f}" stroke="{colour}" '
                       f'stroke-width="2.2"><title>{escape(tip)}</title></path>')
    return out


def learning_curves_svg(curves: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
                        stops: Mapping[str, Sequence[tuple[int, int | None]]],
                        lang: str = "en") -> str:
    """The legend (one toggle button per arm) and the four-panel SVG, as an HTML fragment.

    Args: as :func:`reglab.report.plots.learning_curves` (stored, 0-based stop indices).
    """
    colours = _arm_colours(list(curves))
    buttons = "".join(
        f'<button type="button" class="arm-toggle" data-arm="{escape(arm)}" '
        f'aria-pressed="true"><span style="background:{colours[arm]}"></span>{escape(arm)}'
        f'</button>' for arm in curves)
    body = []
    for k, (key, title, _unit) in enumerate(_CURVE_PANELS):
        dx, dy = PANEL_W * (k % 2), PANEL_H * (k // 2)
        body.append(f'<g class="panel" data-panel="{key}" transform="translate({dx},{dy})">')
        body += _panel(key, title, curves, stops, colours, lang)
        body.append("</g>")
    label = escape(t("template.curves_alt", lang))
    return (f'<div class="legend">{buttons}</div>'
            f'<svg class="curves" viewBox="0 0 {2 * PANEL_W} {2 * PANEL_H}" role="img" '
            f'aria-label="{label}">' + "".join(body) + "</svg>")
