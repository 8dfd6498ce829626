"""One-off: write ``report/catalogue.toml`` from an ``i18n.py`` that still holds the catalogue
as Python dicts (EXPLAIN, REPORT, PLOTS, TEMPLATE, DIAGNOSE, VERDICTS, NOTE_SAYS_VI).

The catalogue moved out of ``src/reglab/report/i18n.py`` into the package data file
``src/reglab/report/catalogue.toml``. A branch that added keys to the old dicts is merged by
running this on that branch's ``i18n.py``; it keeps the comments above each key, and checks
that the TOML it writes reads back to exactly the same texts::

    git show BRANCH:src/reglab/report/i18n.py > /tmp/old_i18n.py
    PYTHONPATH=src python scripts/i18n_to_toml.py /tmp/old_i18n.py src/reglab/report/catalogue.toml
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib

# The old module's dicts in the order of its source, and the prefix CATALOGUE gave each key.
DICTS = {"EXPLAIN": "", "REPORT": "", "PLOTS": "", "TEMPLATE": "template.", "DIAGNOSE": "",
         "VERDICTS": "", "REGRESSION": "", "REGRESSION_LABELS": "template_regression.", "CLI": ""}
WIDTH = 99
# Comments that spoke of the Python dicts, as they read above the TOML tables.
REWORD = {"# The template's fixed labels: key -> (English, Vietnamese); ``labels(lang)`` gives "
          "them all.": "# The report templates' fixed labels (template.KEY): i18n.labels(lang) "
                       "gives them all."}

HEADER = """\
# The message catalogue: every sentence reglab writes for a person, in English (en) and
# Vietnamese (vi); reglab.report.i18n reads it. One table per key, one template per language,
# filled with str.format ({n[l1_lambda]:g}, {count}...): both languages take the same fields.
# A long text is a multi-line string whose lines end with a backslash: TOML joins them, and
# the space before each backslash is part of the text. "\\n" is a line break.
"""


def _escape(s: str) -> str:
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def toml_string(key: str, s: str) -> str:
    """``key = "s"``, or a multi-line string wrapped at spaces when that is too long."""
    one = f'{key} = "{_escape(s)}"'
    if len(one) <= WIDTH:
        return one
    # break after a run of spaces that a word follows: the line-ending backslash drops the
    # newline and the next line's indentation, never a space of the text
    words = [_escape(w) for w in re.split(r"(?<= )(?=\S)", s)]
    lines, line = [], f'{key} = """'
    for w in words:
        if len(line) + len(w) + 1 > WIDTH and line.strip() and not line.endswith('"""'):
            lines.append(line + "\\")
            line = "    "
        line += w
    return "\n".join([*lines, line + '"""'])


def comments(source: str) -> dict[str, list[str]]:
    """The comment lines standing above each catalogue key (a dict's own above its first)."""
    found: dict[str, list[str]] = {}
    pending: list[str] = []
    prefix = None
    for line in source.splitlines():
        head = re.match(r"([A-Z_]+)\b.*= \{$", line)
        if head:
            prefix = DICTS.get(head.group(1))
            continue
        if re.match(r"\s*#", line):
            pending.append(REWORD.get(line.strip(), line.strip()))
            continue
        key = re.match(r'\s+"([^"]+)": ', line)
        if key and prefix is not None:
            found[prefix + key.group(1)] = pending
            pending = []
        elif not line.strip() or not line.startswith(" "):
            if not line.startswith((" ", "}")) and line.strip():
                pending = []
    return found


def convert(module, source: str) -> str:
    notes = comments(source)
    parts = [HEADER]
    for name, prefix in DICTS.items():
        for key, (en, vi) in getattr(module, name).items():
            full = prefix + key
            block = [*notes.get(full, []), f'["{_escape(full)}"]', toml_string("en", en),
                     toml_string("vi", vi)]
            parts.append("\n".join(block) + "\n")
    note = ["# The note's own section 7 (Output, Ưu điểm, Nhược điểm) per arm, in Vietnamese;",
            "# the English is reglab.lab.arms.NOTE_SAYS (an arm not listed keeps the English).",
            "[note_says_vi]"]
    for arm, says in module.NOTE_SAYS_VI.items():
        note.append(f"{arm} = [{', '.join(chr(34) + _escape(s) + chr(34) for s in says)}]")
    parts.append("\n".join(note) + "\n")
    return "\n".join(parts)


def main(old_path: str, out_path: str) -> None:
    spec = importlib.util.spec_from_file_location("old_i18n", old_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = convert(module, open(old_path, encoding="utf-8").read())
    doc = tomllib.loads(text)
    says = doc.pop("note_says_vi")
    expected = {p + k: v for n, p in DICTS.items() for k, v in getattr(module, n).items()}
    assert {k: (t["en"], t["vi"]) for k, t in doc.items()} == expected
    assert list(doc) == list(expected)
    assert {k: tuple(v) for k, v in says.items()} == module.NOTE_SAYS_VI
    with open(out_path, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"wrote {out_path}: {len(doc)} keys, {len(says)} note rows")


if __name__ == "__main__":
    main(*sys.argv[1:])
