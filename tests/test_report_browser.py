"""report.html in a real browser: headless Chromium driven over the DevTools protocol (stdlib only).

Chromium is started with ``--remote-debugging-pipe`` (it reads commands on fd 3 and writes
replies on fd 4, each a JSON message ended by a NUL byte), so no port, no websocket library
and no selenium are needed. The test opens the page exactly as written (no injected script),
collects every console message, log entry and exception, asks each ``<img>`` to decode, and
takes a full-page screenshot. A control page with a broken image and a remote URL checks that
the collector does see such errors.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped with the reason otherwise.
"""

from __future__ import annotations

import base64
import io
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

CHROMIUM = next((p for p in (os.environ.get("REGLAB_CHROMIUM"), "/usr/bin/chromium",
                             shutil.which("chromium"), shutil.which("chromium-browser"))
                 if p and os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install -y "
                             "chromium); the report's browser test needs it")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
         "--window-size=1200,3000", "--remote-debugging-pipe"]


class Browser:
    """A headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, profile: Path):
        cmd_r, self._cmd_w = os.pipe()   # we write commands, Chromium reads them on fd 3
        self._out_r, out_w = os.pipe()   # Chromium writes replies on fd 4, we read them

        def fds():  # in the child, before exec: put the pipe ends where Chromium looks
            os.dup2(cmd_r, 3)
            os.dup2(out_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(out_w)
        self._buf, self._id, self.events, self.session = b"", 0, [], None

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._cmd_w)
        os.close(self._out_r)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._out_r], [], [], left)[0]:
                raise TimeoutError("no reply from Chromium")
            chunk = os.read(self._out_r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, timeout: float = 60, **params) -> dict:
        """Send one command (to the page's session once attached) and wait for its reply."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        """Wait for an event (also looking at the ones already received)."""
        for e in self.events:
            if e.get("method") == method:
                return e
        deadline = time.monotonic() + timeout
        while True:
            e = self._read(deadline)
            self.events.append(e)
            if e.get("method") == method:
                return e

    def open(self, url: str) -> None:
        """A new page, with console, log and runtime events on, navigated to ``url``."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=1200, height=3000,
                  deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def errors(self) -> list[str]:
        """Console errors and warnings, log errors, uncaught exceptions seen so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error",
                                                                                    "warning"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                  for a in p.get("args", [])))
            elif e.get("method") == "Log.entryAdded" and p["entry"]["level"] in ("error",
                                                                                 "warning"):
                out.append(f"log ({p['entry'].get('source')}): {p['entry'].get('text')}")
            elif e.get("method") == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails"))[:300])
        return out

    def images(self) -> list[dict]:
        """Each <img>'s decode result and natural size (decode() rejects on a broken image)."""
        js = ("Promise.all(Array.from(document.images).map(i => i.decode()"
              ".then(() => ({ok: true, w: i.naturalWidth, h: i.naturalHeight, src: i.src.slice(0, 30)}))"
              ".catch(e => ({ok: false, w: i.naturalWidth, h: i.naturalHeight, "
              "src: i.src.slice(0, 30), error: String(e)}))))")
        res = self.send("Runtime.evaluate", expression=js, awaitPromise=True,
                        returnByValue=True)
        return res["result"]["value"]

    def requests(self) -> list[str]:
        """The URL of every request the page made (Network.requestWillBeSent)."""
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def evaluate(self, js: str):
        return self.send("Runtime.evaluate", expression=js, returnByValue=True)["result"]["value"]

    def click(self, x: float, y: float) -> None:
        """A real mouse click (pressed, released) at viewport coordinates."""
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)

    def shot(self, box: dict) -> bytes:
        """A screenshot of one page box (page coordinates)."""
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": box["x"], "y": box["y"], "width": box["w"],
                               "height": box["h"], "scale": 1})["data"]
        return base64.b64decode(data)

    def screenshot(self) -> bytes:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        return base64.b64decode(data["data"])


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    from test_report import make_experiment

    from reglab.report.report import build_report
    # a strong L1 step, so l1's curves stand apart from the others' whatever the tabular
    # defaults are (at their L1 of 0.03 l2's curves, drawn after, cover l1's entirely)
    root = make_experiment(tmp_path_factory.mktemp("browser"), arms=("none", "l1", "l2"),
                           seeds=2, epochs=4, overrides={"patience": 2, "proximal_l1": 0.3})
    return build_report(root)[0]


@pytest.fixture()
def browser(tmp_path):
    b = Browser(tmp_path / "profile")
    try:
        yield b
    finally:
        b.close()


def test_report_loads_without_errors_and_every_image_decodes(report_html, browser, tmp_path):
    from PIL import Image, ImageStat

    browser.open(report_html.resolve().as_uri())
    images = browser.images()
    shot = browser.screenshot()
    (tmp_path / "report.png").write_bytes(shot)  # kept by pytest's tmp_path for a look
    assert browser.errors() == []   # a blocked inline script would be a CSP error here
    # the file itself and its data: images, nothing from a network
    assert [u for u in browser.requests() if not u.startswith("data:image/png;base64,")] == [
        report_html.resolve().as_uri()]
    assert images == []             # every figure is inline SVG (next tests)
    for img in images:
        assert img["ok"], img
        assert img["w"] > 100 and img["h"] > 100, img
        assert img["src"].startswith("data:image/png;base64,")
    title = browser.send("Runtime.evaluate", expression="document.title",
                         returnByValue=True)["result"]["value"]
    assert title.startswith("reglab report")
    with Image.open(io.BytesIO(shot)) as im:
        rgb = im.convert("RGB")
        assert rgb.size[0] >= 1000 and rgb.size[1] >= 1000
        colours = rgb.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50  # text, tables and plots, not blank
        assert max(ImageStat.Stat(rgb).var) > 100


BOXES = ("Array.from(document.querySelectorAll('figure > img, figure > svg')).map(i => { "
         "const r = i.getBoundingClientRect(); return {tag: i.tagName.toLowerCase(), "
         "alt: i.alt || i.getAttribute('aria-label'), "
         "x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height}; })")


def _colours(png: bytes) -> dict:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return {rgb: n for n, rgb in im.convert("RGB").getcolors(maxcolors=1 << 22)}


def test_each_figure_shows_on_screen_and_is_not_blank(report_html, browser):
    """A screenshot of each figure (PNG or inline SVG) as laid out: drawn pixels, not an
    empty box."""
    browser.open(report_html.resolve().as_uri())
    boxes = browser.evaluate(BOXES)
    assert [b["alt"] for b in boxes] == [
        "each arm minus none with its paired interval", "learning curves, every arm overlaid",
        "train-test accuracy gap per arm", "weight histograms per layer and arm"]
    assert [b["tag"] for b in boxes] == ["svg"] * 4
    for box in boxes:
        assert box["w"] > 300 and box["h"] > 150, box
        assert len(_colours(browser.shot(box))) > 100, box["alt"]


ORANGE = (0xff, 0x7f, 0x0e)   # l1's colour (tab10, the second arm)


def _near(colours: dict, rgb, tol: int = 12) -> int:
    return sum(n for c, n in colours.items() if all(abs(a - b) <= tol for a, b in zip(c, rgb)))


def test_clicking_an_arm_in_the_legend_hides_its_curves_and_clicking_again_shows_them(
        report_html, browser):
    browser.open(report_html.resolve().as_uri())
    visible = ("(arm) => Array.from(document.querySelectorAll('#learning-curves svg [data-arm]'))"
               ".filter(g => g.getAttribute('data-arm') === arm && "
               "getComputedStyle(g).display !== 'none').length")
    count = lambda arm: browser.evaluate(f"({visible})({json.dumps(arm)})")  # noqa: E731
    assert [count(a) for a in ("none", "l1", "l2")] == [4, 4, 4]    # one series per panel
    box = next(b for b in browser.evaluate(BOXES) if b["alt"].startswith("learning curves"))
    before = _colours(browser.shot(box))
    # l1 is drawn (how many of its pixels show depends on how much the arms' curves overlap)
    assert _near(before, ORANGE) > 100
    button = browser.evaluate(
        "(() => { const b = document.querySelector('#learning-curves button[data-arm=\"l1\"]');"
        " b.scrollIntoView({block: 'center'}); const r = b.getBoundingClientRect();"
        " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()")
    browser.click(button["x"], button["y"])
    assert [count(a) for a in ("none", "l1", "l2")] == [4, 0, 4]
    assert browser.evaluate("document.querySelector('#learning-curves button[data-arm=\"l1\"]')"
                            ".getAttribute('aria-pressed')") == "false"
    box = next(b for b in browser.evaluate(BOXES) if b["alt"].startswith("learning curves"))
    hidden = _colours(browser.shot(box))
    assert _near(hidden, ORANGE) < 0.05 * _near(before, ORANGE)     # gone from the pixels too
    assert len(hidden) > 100                                          # the rest still drawn
    browser.click(button["x"], button["y"])
    assert [count(a) for a in ("none", "l1", "l2")] == [4, 4, 4]
    assert browser.errors() == []


def test_hovering_a_point_has_its_values_as_the_tooltip(report_html, browser):
    """The tooltip is the point's SVG <title>: the element under the mouse carries it."""
    browser.open(report_html.resolve().as_uri())
    point = browser.evaluate(
        "(() => { const c = document.querySelector('#learning-curves g[data-panel=\"val_loss\"]"
        " g[data-arm=\"l2\"] circle.pt'); c.scrollIntoView({block: 'center'});"
        " const r = c.getBoundingClientRect(); return {x: r.left + r.width / 2,"
        " y: r.top + r.height / 2, tip: c.querySelector('title').textContent}; })()")
    browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=point["x"], y=point["y"])
    under = browser.evaluate(
        f"(() => {{ const e = document.elementFromPoint({point['x']}, {point['y']});"
        " const t = e && e.querySelector(':scope > title'); return t && t.textContent; })()")
    assert under == point["tip"] and under.startswith("l2, epoch 1: validation loss ")


def test_the_collector_sees_broken_images_and_blocked_requests(report_html, browser, tmp_path):
    """Control: the same page head with a broken image and a remote URL must be reported."""
    page = report_html.read_text()
    head = page[:page.index("<body>")]
    bad = tmp_path / "bad.html"
    bad.write_text(head + '<body><img src="data:image/png;base64,AAAA" alt="broken">'
                   '<img src="https://example.invalid/x.png" alt="remote"></body></html>')
    browser.open(bad.as_uri())
    images = browser.images()
    assert [img["ok"] for img in images] == [False, False]
    errors = browser.errors()
    assert any("Content Security Policy" in e or "Refused" in e for e in errors), errors


MARK = ("(sel) => { const m = document.querySelector(sel); m.scrollIntoView({block: 'center'});"
        " const r = m.getBoundingClientRect(); return {x: r.left + r.width / 2,"
        " y: r.top + r.height / 2, tip: m.closest('g.mark').querySelector(':scope > title')"
        ".textContent}; }")
UNDER = ("(p) => { const e = document.elementFromPoint(p.x, p.y); const g = e && "
         "e.closest('g.mark'); return g && g.querySelector(':scope > title').textContent; }")


@pytest.mark.parametrize("figure, mark, starts", [
    ("forest", 'g.row[data-arm="l2"] circle', "l2: Δ test accuracy (points) "),
    ("gap", 'g.bar[data-arm="l1"] rect', "l1 (n=2): train acc - test acc (points) "),
    ("weights", 'g.panel[data-arm="l1"] g.mark rect', "l1, layer 1 (16×3): ")])
def test_hovering_a_mark_of_the_forest_or_the_gap_shows_its_numbers(report_html, browser,
                                                                    figure, mark, starts):
    """The mouse on the l2 dot / the l1 bar: the element under it belongs to the mark whose
    <title> (the tooltip) holds its numbers (their values: test_report's hover tests)."""
    browser.open(report_html.resolve().as_uri())
    point = browser.evaluate(f"({MARK})({json.dumps(f'#{figure} svg ' + mark)})")
    browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=point["x"], y=point["y"])
    assert browser.evaluate(f"({UNDER})({json.dumps(point)})") == point["tip"]
    assert point["tip"].startswith(starts)


def test_clicking_an_arm_hides_its_rows_in_the_forest_and_its_bar_in_the_gap(report_html,
                                                                            browser):
    browser.open(report_html.resolve().as_uri())
    shown = ("(fig) => Array.from(document.querySelectorAll('#' + fig + ' svg [data-arm=\"l1\"]'))"
             ".filter(g => getComputedStyle(g).display !== 'none').length")
    for figure, groups in (("forest", 2), ("gap", 1)):   # a row per panel; one bar
        assert browser.evaluate(f"({shown})({json.dumps(figure)})") == groups
        button = browser.evaluate(
            f"(() => {{ const b = document.querySelector('#{figure} button[data-arm=\"l1\"]');"
            " b.scrollIntoView({block: 'center'}); const r = b.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()")
        browser.click(button["x"], button["y"])
        assert browser.evaluate(f"({shown})({json.dumps(figure)})") == 0
        assert browser.evaluate(f"({shown})('learning-curves')") == 4  # other figures keep it
        browser.click(button["x"], button["y"])
        assert browser.evaluate(f"({shown})({json.dumps(figure)})") == groups
    assert browser.errors() == []
