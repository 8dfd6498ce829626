"""The HTML report's interactive figures as inline SVG: the forest plot, the learning
curves, the gap bars and the weight histograms.

Hovering a mark shows its numbers (an SVG ``<title>``: the browser's own tooltip, no script
needed); clicking an arm's button in a figure's legend hides or shows every mark of that arm
in that figure (:data:`SCRIPT`, a few lines inlined in the page and allowed by the page's
Content-Security-Policy through its hash, :func:`script_hash`). Nothing is fetched: the
markup, the style and the script are all in ``report.html``. ``report.md`` keeps the static
PNGs of :mod:`reglab.report.plots`; each SVG here takes the arguments of its PNG
(:func:`forest_svg` those of ``plots.forest``, :func:`gap_svg` of ``plots.gap_bars``,
:func:`weights_svg` of ``plots.weight_histograms``) and shares its panels, counts and
colours (``plots.forest_panels``, ``plots.gap_effect``, ``plots.weight_panels``); the hover
texts format the differences with ``stats.format_ci`` as the tables do.

Every name that comes from the store (an arm) is escaped with :func:`html.escape`; numbers
are formatted here. Epochs on the x axis count from 1 (:func:`reglab._epochs.shown_epoch`).
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from html import escape

from matplotlib.colors import to_hex

from reglab._epochs import shown_epoch
from reglab.lab.stats import MIN_EFFECT_ACC, PairedDifference, format_ci, format_num
from reglab.report.i18n import prefixed, t
from reglab.report.plots import (_CURVE_PANELS, EFFECT_COLOURS, _arm_colours, _band,
                                 forest_panels, gap_effect, weight_panels)

__all__ = ["SCRIPT", "script_hash", "learning_curves_svg", "forest_svg", "gap_svg",
           "weights_svg"]

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
svg.figure { width: 100%; height: auto; display: block; font-size: 11px; }
svg.figure circle.pt { fill-opacity: .85; } svg.figure circle.pt:hover { stroke: #000; stroke-width: 1.5; }
svg.figure g.mark:hover rect, svg.figure g.mark:hover circle { stroke: #000; stroke-width: 1.5; }"""

PANEL_W, PANEL_H = 560, 300        # one panel, in SVG units; the figure is 2 x 2 panels
LEFT, RIGHT, TOP, BOTTOM = 62, 12, 26, 40


def script_hash() -> str:
    """The CSP source that allows exactly :data:`SCRIPT` inline: ``'sha256-...'``."""
    digest = hashlib.sha256(SCRIPT.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _num(v: float) -> str:
    return f"{v:.4g}"


def _scale(values: Sequence[float], start: float = PANEL_H - BOTTOM, end: float = TOP,
           log: bool | None = None):
    """(to_px, ticks, log) for the finite ``values`` on an axis from pixel ``start`` (the
    lowest value, padded) to ``end`` (the highest); ``log`` None: log when they are positive
    and span > 30x (as the PNG's curves). The default is a curves panel's y axis; the forest
    plot's x axis runs left to right."""
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        vals = [0.0, 1.0]
    lo, hi = min(vals), max(vals)
    log = (lo > 0 and hi / lo > 30) if log is None else (log and lo > 0)
    f = math.log10 if log else (lambda v: v)
    a, b = f(lo), f(hi)
    if b - a < 1e-12:
        a, b = a - 0.5, b + 0.5
    pad = 0.05 * (b - a)
    a, b = a - pad, b + pad

    def to_px(v: float) -> float:
        return start + (end - start) * (f(v) - a) / (b - a)

    if log:
        ticks = [10.0 ** k for k in range(math.ceil(a), math.floor(b) + 1)]
    else:
        ticks = _round_ticks(a, b)
    return to_px, ticks, log


def _round_ticks(a: float, b: float) -> list[float]:
    """About five ticks in [a, b] at a round step (1, 2, 2.5 or 5 times a power of 10)."""
    raw = (b - a) / 4
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = math.ceil(a / step - 1e-9)
    ticks = [k * step for k in range(first, math.floor(b / step + 1e-9) + 1)]
    return [0.0 if abs(v) < 1e-9 * step else v for v in ticks]


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
                        lang: str = "en",
                        panels: Sequence[tuple[str, str, str]] = _CURVE_PANELS) -> str:
    """The legend (one toggle button per arm) and the four-panel SVG, as an HTML fragment.

    Args: as :func:`reglab.report.plots.learning_curves` (stored, 0-based stop indices;
    ``panels``: a regression's are ``plots.REGRESSION_CURVE_PANELS``).
    """
    colours = _arm_colours(list(curves))
    body = []
    for k, (key, title, _unit) in enumerate(panels):
        dx, dy = PANEL_W * (k % 2), PANEL_H * (k // 2)
        body.append(f'<g class="panel" data-panel="{key}" transform="translate({dx},{dy})">')
        body += _panel(key, title, curves, stops, colours, lang)
        body.append("</g>")
    label = escape(t("template.curves_alt", lang))
    return _figure(list(curves), 2 * PANEL_W, 2 * PANEL_H, label, body, colours)


def _figure(arms: Sequence[str], width: float, height: float, label: str, body: list[str],
            colours: Mapping[str, str] | None = None) -> str:
    """The legend (one toggle button per arm, with its colour's swatch when the arms have
    colours) and the SVG of ``body``, as an HTML fragment; ``label`` is already escaped."""
    swatch = lambda arm: ("" if colours is None else  # noqa: E731
                          f'<span style="background:{colours[arm]}"></span>')
    buttons = "".join(
        f'<button type="button" class="arm-toggle" data-arm="{escape(arm)}" '
        f'aria-pressed="true">{swatch(arm)}{escape(arm)}</button>' for arm in arms)
    return (f'<div class="legend">{buttons}</div>'
            f'<svg class="figure" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
            f'style="max-width:{width:.0f}px" aria-label="{label}">' + "".join(body) + "</svg>")


# -- the forest plot and the gap bars: the PNG's inputs, the PNG's colours ----------------------
ROW_H, NAME_W, FOREST_TOP, FOREST_BOTTOM = 34, 120, 40, 66   # forest: one row per arm
_KIND = {"helps": "better", "hurts": "worse"}                 # else: no measurable difference
_GREY_BAND = to_hex("0.9")


def _colour(kind: str) -> str:
    """An :data:`~reglab.report.plots.EFFECT_COLOURS` entry as SVG colour (``"0.55"`` -> hex)."""
    return to_hex(EFFECT_COLOURS[kind])


def _label(arm: str) -> str:
    """An arm's name as drawn at the axis (escaped; cut at 18 characters, the hover texts
    and the toggle button hold it whole)."""
    return escape(arm if len(arm) <= 18 else arm[:17] + "…")


def _swatches(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    """A one-line colour key: (colour, text) per item, from ``x`` at baseline ``y``."""
    out = []
    for colour, text in items:
        out.append(f'<rect x="{x:.0f}" y="{y - 9:.0f}" width="14" height="10" fill="{colour}"/>'
                   f'<text x="{x + 18:.0f}" y="{y:.0f}">{escape(text)}</text>')
        x += 30 + 6.5 * len(text)
    return out


def _forest_panel(arms, diffs, raws, panel, label, dx, height, lang) -> list[str]:
    """One panel of :func:`forest_svg` (in figure coordinates, shifted by ``dx``)."""
    k = prefixed("plot", lang)
    left, right, bottom = dx + NAME_W, dx + PANEL_W - 3 * RIGHT, height - FOREST_BOTTOM
    band = panel.band if math.isfinite(panel.band) and panel.band > 0 else 0.0
    values = [0.0, -band, band] + [panel.scale * v for d in (*diffs, *raws) if d is not None
                                   for v in (d.mean, d.low, d.high)]
    to_x, ticks, _ = _scale(values, left, right, log=False)
    out = [f'<rect x="{left}" y="{FOREST_TOP}" width="{right - left}" '
           f'height="{bottom - FOREST_TOP}" fill="#fff" stroke="#999"/>']
    if band:
        out.append(f'<rect x="{to_x(-band):.1f}" y="{FOREST_TOP}" '
                   f'width="{to_x(band) - to_x(-band):.1f}" height="{bottom - FOREST_TOP}" '
                   f'fill="{_GREY_BAND}"/>')
    for v in ticks:
        out.append(f'<line x1="{to_x(v):.1f}" x2="{to_x(v):.1f}" y1="{FOREST_TOP}" '
                   f'y2="{bottom}" stroke="#e4e4e4"/><text x="{to_x(v):.1f}" '
                   f'y="{bottom + 14}" text-anchor="middle">{_num(v)}</text>')
    out.append(f'<line x1="{to_x(0):.1f}" x2="{to_x(0):.1f}" y1="{FOREST_TOP}" y2="{bottom}" '
               f'stroke="#000"/><text x="{(left + right) / 2:.0f}" y="{bottom + 30}" '
               f'text-anchor="middle">{escape(panel.xlabel)}</text>')
    for i, (arm, d, raw) in enumerate(zip(arms, diffs, raws)):
        y = FOREST_TOP + ROW_H * (i + 0.5)
        row = [f'<g class="row" data-arm="{escape(arm)}"><text x="{left - 6}" y="{y + 4:.1f}" '
               f'text-anchor="end">{_label(arm)}</text>']
        if d is None or not math.isfinite(d.mean):
            row.append(f'<text x="{to_x(0):.1f}" y="{y + 4:.1f}" text-anchor="middle" '
                       f'fill="#666">{escape(k("forest.no_pairs"))}</text></g>')
            out += row
            continue
        kind = panel.effect(d)
        tip = k("forest.point", arm=arm, what=panel.measure, label=label,
                value=format_ci(d, panel.scale, panel.digits), unadjusted=k("forest.unadjusted"),
                raw=format_ci(raw, panel.scale, panel.digits), n=d.n,
                kind=k(f"forest.{_KIND.get(kind, 'no_difference')}"))
        row.append(f'<g class="mark"><title>{escape(tip)}</title>')
        s = panel.scale
        if raw is not None and math.isfinite(raw.low) and math.isfinite(raw.high):
            row.append(f'<line x1="{to_x(s * raw.low):.1f}" x2="{to_x(s * raw.high):.1f}" '
                       f'y1="{y + 7:.1f}" y2="{y + 7:.1f}" stroke="#000" stroke-width="1.2"/>')
        if math.isfinite(d.low) and math.isfinite(d.high):
            row.append(f'<rect class="interval" x="{to_x(s * d.low):.1f}" y="{y - 4:.1f}" '
                       f'width="{max(1.0, to_x(s * d.high) - to_x(s * d.low)):.1f}" height="8" '
                       f'fill="{_colour(kind)}"/>')
        else:
            row.append(f'<text x="{to_x(s * d.mean):.1f}" y="{y - 8:.1f}" text-anchor="middle" '
                       f'fill="#666">{escape(k("forest.no_interval", n=d.n))}</text>')
        row.append(f'<circle cx="{to_x(s * d.mean):.1f}" cy="{y:.1f}" r="4" fill="#000"/>'
                   "</g></g>")
        out += row
    return out


def forest_svg(arms: Sequence[str], acc: Sequence[PairedDifference | None],
               loss: Sequence[PairedDifference | None],
               acc_raw: Sequence[PairedDifference | None],
               loss_raw: Sequence[PairedDifference | None], min_acc: float, min_loss: float,
               label: str, lang: str = "en", regression: bool = False) -> str:
    """:func:`reglab.report.plots.forest` as inline SVG: hover a row's marks for its numbers
    (the difference and the interval the verdict used, formatted as the difference table
    prints them, the unadjusted interval, n, what it supports); a button per arm toggles its
    rows. Same arguments, same panels (:func:`~reglab.report.plots.forest_panels`) and colours.
    """
    k = prefixed("plot", lang)
    height = FOREST_TOP + ROW_H * len(arms) + FOREST_BOTTOM
    body = [f'<text x="{PANEL_W}" y="18" text-anchor="middle" font-weight="bold">'
            f'{escape(k("forest.title", label=label))}</text>']
    panels = forest_panels(min_acc, min_loss, lang, regression)
    for j, (diffs, raws, panel) in enumerate(zip((acc, loss), (acc_raw, loss_raw), panels)):
        body += _forest_panel(arms, diffs, raws, panel, label, j * PANEL_W, height, lang)
    body += _swatches([(_colour("helps"), k("forest.better")),
                       (_colour("hurts"), k("forest.worse")),
                       (_colour("unclear"), k("forest.no_difference")),
                       (_GREY_BAND, k("forest.min_effect"))], NAME_W, height - 8)
    return _figure(list(arms), 2 * PANEL_W, height, escape(t("template.forest_alt", lang)), body)


def gap_svg(arms: Sequence[str], means: Sequence[float],
            diffs: Sequence[PairedDifference | None], n: Sequence[int] | None = None,
            min_effect: float = MIN_EFFECT_ACC, lang: str = "en", scale: float = 100.0,
            ylabel: str = "ylabel", alt: str = "template.gap_alt") -> str:
    """:func:`reglab.report.plots.gap_bars` as inline SVG: hover a bar for the arm's mean gap
    and its paired difference from ``none`` (as :func:`reglab.lab.stats.format_ci` prints
    it); a button per arm toggles its bar. Same arguments and colours
    (:func:`~reglab.report.plots.gap_effect`); ``alt``: the catalogue key of its label."""
    k = prefixed("plot.gap", lang)
    width, height = max(720, LEFT + RIGHT + 110 * len(arms)), PANEL_H + 24
    slot = (width - LEFT - RIGHT) / max(1, len(arms))
    m = [scale * v if math.isfinite(v) else 0.0 for v in means]
    ends = [m[i] + scale * (e - d.mean) for i, d in enumerate(diffs) if d is not None
            for e in (d.low, d.high)]
    bottom = height - BOTTOM - 24
    to_y, ticks, _ = _scale([0.0, *m, *ends], bottom, TOP, log=False)
    body = [f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">'
            f'{escape(k("title"))}</text>',
            f'<rect x="{LEFT}" y="{TOP}" width="{width - LEFT - RIGHT}" height="{bottom - TOP}" '
            f'fill="#fff" stroke="#999"/>',
            f'<text transform="translate(14,{(TOP + bottom) / 2:.0f}) rotate(-90)" '
            f'text-anchor="middle">{escape(k(ylabel))}</text>']
    for v in ticks:
        body.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{to_y(v):.1f}" '
                    f'y2="{to_y(v):.1f}" stroke="#e4e4e4"/><text x="{LEFT - 4}" '
                    f'y="{to_y(v) + 4:.1f}" text-anchor="end">{_num(v)}</text>')
    body.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{to_y(0):.1f}" y2="{to_y(0):.1f}" '
                f'stroke="#000"/>')
    if arms and arms[0] == "none" and math.isfinite(means[0]):
        body.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{to_y(m[0]):.1f}" '
                    f'y2="{to_y(m[0]):.1f}" stroke="{_colour("baseline")}" '
                    f'stroke-dasharray="5 3"/>')
    for i, (arm, d) in enumerate(zip(arms, diffs)):
        body += _gap_bar(arm, d, means[i], m[i], None if n is None else n[i], LEFT + slot * i,
                         slot, to_y, bottom, min_effect, scale, ylabel, lang)
    body += _swatches([(_colour("helps"), k("narrower")), (_colour("hurts"), k("wider")),
                       (_colour("unclear"), k("same"))], LEFT, height - 6)
    return _figure(list(arms), width, height, escape(t(alt, lang)), body)


def _gap_bar(arm, d, mean, m, n, x0, slot, to_y, bottom, min_effect, scale, ylabel, lang
             ) -> list[str]:
    """One arm's bar, error bar and name in :func:`gap_svg`."""
    k = prefixed("plot.gap", lang)
    kind = gap_effect(d, min_effect)
    tip = k("point", arm=arm, n="?" if n is None else n, what=k(ylabel),
            value=format_num(scale * mean, 2))
    if d is not None:
        tip += k("point_diff", arm=arm, ci=format_ci(d, scale),
                 kind=k({"helps": "narrower", "hurts": "wider"}.get(kind, "same")))
    cx, w = x0 + slot / 2, 0.6 * slot
    top, base = min(to_y(m), to_y(0)), max(to_y(m), to_y(0))
    out = [f'<g class="bar" data-arm="{escape(arm)}"><g class="mark"><title>{escape(tip)}</title>'
           f'<rect x="{cx - w / 2:.1f}" y="{top:.1f}" width="{w:.1f}" '
           f'height="{max(1.0, base - top):.1f}" fill="{_colour(kind)}"/>']
    if d is not None and math.isfinite(d.low) and math.isfinite(d.high):
        lo, hi = to_y(m + scale * (d.low - d.mean)), to_y(m + scale * (d.high - d.mean))
        out.append(f'<path d="M{cx:.1f},{lo:.1f}V{hi:.1f}M{cx - 5:.1f},{lo:.1f}H{cx + 5:.1f}'
                   f'M{cx - 5:.1f},{hi:.1f}H{cx + 5:.1f}" stroke="#000" stroke-width="1.2" '
                   f'fill="none"/>')
    out.append(f'</g><text x="{cx:.1f}" y="{bottom + 14}" text-anchor="middle">{_label(arm)}'
               f'</text>')
    if n is not None:
        out.append(f'<text x="{cx:.1f}" y="{bottom + 27}" text-anchor="middle">(n={n})</text>')
    out.append("</g>")
    return out


# -- the weight histograms: plots.weight_panels' counts, one panel per layer and arm ----------
W_PANEL_W, W_PANEL_H, W_LEFT, W_TOP, W_BOTTOM = 270, 190, 44, 34, 30
_PURPLE = to_hex("tab:purple")


def weights_svg(weights: Mapping[str, Mapping[str, Sequence[float]]], bins: int = 61,
                lang: str = "en", panels: Mapping | None = None) -> str:
    """:func:`reglab.report.plots.weight_histograms` as inline SVG: the same counts
    (:func:`~reglab.report.plots.weight_panels`, or ``panels`` when the caller has them),
    log scale, ``none`` outlined; hover a bar for its arm, layer, bin range and count; a
    button per arm toggles its column."""
    k = prefixed("plot.weights", lang)
    arms = list(weights)
    panels = weight_panels(weights, bins) if panels is None else panels
    width, height = W_PANEL_W * len(arms), 24 + W_PANEL_H * max(1, len(panels)) + 16
    body = [f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">'
            f'{escape(k("title"))}</text>']
    for row, (layer, (lim, edges, per)) in enumerate(panels.items()):
        counts = [c for p in per.values() if p is not None for c in p.counts if c > 0]
        for col, arm in enumerate(arms):
            body.append(f'<g class="panel" data-arm="{escape(arm)}" transform="translate('
                        f'{W_PANEL_W * col},{24 + W_PANEL_H * row})">')
            body += _weight_panel(arm, layer, lim, edges, per, counts, lang)
            body.append("</g>")
    body.append(f'<text x="{width / 2:.0f}" y="{height - 4}" text-anchor="middle">'
                f'{escape(k("value"))}; {escape(k("count"))}</text>')
    return _figure(arms, width, height, escape(t("template.weights_alt", lang)), body)


def _weight_panel(arm, layer, lim, edges, per, counts, lang) -> list[str]:
    """One arm's histogram of one layer (panel coordinates): bars with hover texts, ``none``'s
    outline, the title of the PNG's panel."""
    k = prefixed("plot.weights", lang)
    left, right, bottom = W_LEFT, W_PANEL_W - 8, W_PANEL_H - W_BOTTOM
    p = per[arm]
    title = (k("panel", arm=arm, layer=layer, zeros=p.zeros, outside=p.outside, lim=lim)
             if p is not None else arm).split("\n")
    out = [f'<text x="{(left + right) / 2:.0f}" y="{11 + 12 * i}" text-anchor="middle">'
           f'{escape(line)}</text>' for i, line in enumerate(title)]
    out.append(f'<rect x="{left}" y="{W_TOP}" width="{right - left}" height="{bottom - W_TOP}" '
               f'fill="#fff" stroke="#999"/>')
    if p is None:
        return out + [f'<text x="{(left + right) / 2:.0f}" y="{(W_TOP + bottom) / 2:.0f}" '
                      f'text-anchor="middle" fill="#666">{escape(k("none_stored"))}</text>']
    to_x, xticks, _ = _scale([-lim, lim], left, right, log=False)
    to_y, yticks, _ = _scale(counts or [1], bottom, W_TOP, log=True)
    for v in xticks:
        out.append(f'<text x="{to_x(v):.1f}" y="{bottom + 12}" text-anchor="middle">'
                   f'{_num(v)}</text>')
    for v in yticks:
        out.append(f'<line x1="{left}" x2="{right}" y1="{to_y(v):.1f}" y2="{to_y(v):.1f}" '
                   f'stroke="#e4e4e4"/><text x="{left - 3}" y="{to_y(v) + 4:.1f}" '
                   f'text-anchor="end">{_num(v)}</text>')
    for lo, hi, c in zip(edges[:-1], edges[1:], p.counts):
        if c <= 0:
            continue
        tip = k("bar", arm=arm, layer=layer, count=int(c), lo=_num(lo), hi=_num(hi))
        out.append(f'<g class="mark"><title>{escape(tip)}</title><rect x="{to_x(lo):.2f}" '
                   f'y="{to_y(c):.1f}" width="{to_x(hi) - to_x(lo):.2f}" '
                   f'height="{bottom - to_y(c):.1f}" fill="{_PURPLE}"/></g>')
    ref = per.get("none")
    if arm != "none" and ref is not None:  # the unregularized shape, as the PNG's outline
        steps = [f"{to_x(lo):.1f},{to_y(c) if c > 0 else bottom:.1f} "
                 f"{to_x(hi):.1f},{to_y(c) if c > 0 else bottom:.1f}"
                 for lo, hi, c in zip(edges[:-1], edges[1:], ref.counts)]
        out.append(f'<polyline class="ref" points="{" ".join(steps)}" fill="none" '
                   f'stroke="#4d4d4d" stroke-width="1"/>')
    return out
