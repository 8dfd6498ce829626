"""The ``reglab explain`` page: every answer, its numbers and its figures, self-contained."""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from pathlib import Path

import jinja2

import reglab as rl
from reglab.report.explain._shared import Explanation
from reglab.report.i18n import check_lang, prefixed

__all__ = ["write_html"]


_PAGE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reglab explain</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }
h1 { margin-bottom: 0.2rem; }
nav a { margin-right: 1rem; }
section { border-top: 1px solid #ccc; margin-top: 2rem; padding-top: 0.5rem; }
p.answer { font-size: 1.05rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 1rem 0; }
td, th { border: 1px solid #ddd; padding: 0.15rem 0.6rem; text-align: left; }
td.num { text-align: right; font-family: ui-monospace, monospace; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; }
figcaption, .meta { color: #666; font-size: 0.85rem; }
</style>
</head>
<body>
<h1>reglab explain</h1>
<p class="meta">{{ intro }}</p>
<nav>{% for e in explanations %}<a href="#{{ e.topic }}">{{ e.topic }}</a>{% endfor %}</nav>
{% for e in explanations %}
<section id="{{ e.topic }}" class="topic">
<h2>{{ e.question }}</h2>
<p class="answer">{{ e.answer }}</p>
{% for title, data in e.images %}
<figure><img src="data:image/png;base64,{{ data }}" alt="{{ title }}">
<figcaption>{{ title }}</figcaption></figure>
{% endfor %}
<details><summary>{{ e.numbers_title }}</summary>
<table><tr><th>{{ L.name }}</th><th>{{ L.value }}</th></tr>
{% for key, value in e.numbers.items() %}
<tr><td>{{ key }}</td><td class="num">{{ "%.6g" | format(value) }}</td></tr>
{% endfor %}</table></details>
<p class="meta">{{ L.topic }} <code>{{ e.topic }}</code>, {{ e.ran }}</p>
</section>
{% endfor %}
</body>
</html>
"""


def write_html(explanations: list[Explanation], path: str | Path, seed: int = 0,
               quick: bool = False, lang: str = "en") -> Path:
    """Write one self-contained HTML page (figures as base64 PNG data URIs), atomically.

    ``lang`` ("en" or "vi") is the language of the page's own words (the answers come in the
    language they were measured in). Rendered with Jinja2 autoescaping; written to a temporary
    file in the same folder, then moved over ``path`` with ``os.replace`` so a reader never
    sees half a page.

    Example::

        write_html(explain("dropout", quick=True), "explain.html")
    """
    check_lang(lang, "explain")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    k = prefixed("explain.page", lang)
    items = [{"topic": e.topic, "question": e.question, "answer": e.answer,
              "numbers": e.numbers, "numbers_title": k("numbers", count=len(e.numbers)),
              "ran": k("ran", seconds=f"{e.seconds:.1f}"),
              "images": [(t, base64.b64encode(png).decode("ascii")) for t, png in e.figures]}
             for e in explanations]
    intro = k("intro", seed=seed, reduced=k("reduced") if quick else "", version=rl.__version__)
    html = env.from_string(_PAGE).render(
        explanations=items, lang=lang, intro=intro,
        L={part: k(part) for part in ("name", "value", "topic")})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
