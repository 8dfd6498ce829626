"""Escape at the edge: text from a user's file, made safe for each place it is shown.

One helper per target (STYLE.md 16); everything a user's file or path named (CSV headers,
class names, file and folder names) goes through the helper of the place it is written to:

* :func:`terminal_text`: every control character (C0 incl. ESC, CR, LF and TAB, DEL, C1)
  and every Unicode bidirectional override shown as its ``\\xNN`` / ``\\uNNNN`` escape, so
  a header can neither colour, retitle nor rewrite the terminal, nor reorder what is shown.
* :func:`markdown_text`: the same escapes, then the inline punctuation that opens a Markdown
  construct (CommonMark and GitHub tables: ``\\ ` * [ ] | ~``) backslash-escaped and ``&``,
  ``<``, ``>`` as HTML entities: no link, image, raw HTML, code span, emphasis or table cell
  can come from data.
* for rich, ``reglab.report.console.safe``: :func:`terminal_text`, then
  ``rich.markup.escape`` (the report layer owns rich), so ``[/x]`` in a path is printed.

Example:
    >>> terminal_text("a\\x1b[31mb")
    'a\\\\x1b[31mb'
    >>> markdown_text("![x](http://e/t.png) | y")
    '!\\\\[x\\\\](http://e/t.png) \\\\| y'
"""

from __future__ import annotations

import re

__all__ = ["markdown_text", "terminal_text"]

# C0 (0x00-0x1f), DEL, C1 (0x80-0x9f); bidi embeddings, overrides, isolates and marks;
# the line and paragraph separators some terminals and viewers treat as newlines.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
# The inline punctuation that opens a construct in text and table cells (values are never
# at a line's start): links and images need an unescaped ']' ("![x](u)", "[x](javascript:)"),
# code spans '`', emphasis and strikethrough '*' '~', GitHub table cells '|'; the backslash
# itself first. Autolinks and raw HTML need '<', written as an entity below. '_' stays: it
# only emphasizes at word boundaries, and column names like val_loss must stay readable.
_MD_SPECIAL = re.compile(r"([\\`*\[\]|~])")


def _visible(m: re.Match) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal_text(text: object) -> str:
    """``str(text)`` with each control or bidi-override character shown as its escape."""
    return _CONTROL.sub(_visible, str(text))


def markdown_text(text: object) -> str:
    """``str(text)`` safe inside Markdown text and table cells: control characters shown
    as escapes, Markdown punctuation backslash-escaped, ``& < >`` as HTML entities."""
    s = _MD_SPECIAL.sub(r"\\\1", terminal_text(text))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
