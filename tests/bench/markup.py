"""What the page benchmark reads in a dashboard page: its "next" link, a form's hidden
fields (the CSRF token) and the error it shows. The standard library's HTML parser, so
no new dependency."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"})
_HIDDEN = frozenset({"head", "script", "style", "template"})
_NEXT_TEXT = re.compile(r"^\s*(next|older)\b|[\u203a\u00bb\u2192]\s*$", re.IGNORECASE)


@dataclass
class _Anchor:
    href: str
    rel: str
    text: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[_Anchor] = []
        self.hidden: dict[str, str] = {}
        self.error: list[str] = []
        self.text: list[str] = []
        self._open: _Anchor | None = None
        self._error_depth = 0  # inside the first element of class "error": its depth
        self._depth = 0
        self._skip = 0  # inside <script>, <style> or <head>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag in _VOID:
            self._void(tag, found)
            return
        self._depth += 1
        if tag in _HIDDEN:
            self._skip += 1
        if not self._error_depth and not self.error and "error" in found.get("class", "").split():
            self._error_depth = self._depth
        if tag == "a" and "href" in found:
            self._open = _Anchor(href=found["href"], rel=found.get("rel", ""))
            self.anchors.append(self._open)

    def _void(self, tag: str, found: dict[str, str]) -> None:
        if tag == "input" and found.get("type", "").lower() == "hidden" and found.get("name"):
            self.hidden.setdefault(found["name"], found.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if tag == "a":
            self._open = None
        if self._error_depth == self._depth:
            self._error_depth = 0
        if tag in _HIDDEN and self._skip:
            self._skip -= 1
        self._depth = max(0, self._depth - 1)

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.text.append(data)
        if self._error_depth:
            self.error.append(data)
        if not self._skip:
            self.text.append(data)


def _read(html: str) -> _Reader:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader


def next_link(html: str) -> str | None:
    """The href of the page's link to the next page: ``rel="next"``, else a link whose
    text starts with "Next" or "Older" or ends with an arrow; None when there is none."""
    anchors = _read(html).anchors
    for anchor in anchors:
        if "next" in anchor.rel.lower().split():
            return anchor.href
    for anchor in anchors:
        if _NEXT_TEXT.search("".join(anchor.text).strip()):
            return anchor.href
    return None


def hidden_field(html: str, name: str) -> str | None:
    """The value of the first hidden input called ``name`` (e.g. ``csrf``), or None."""
    return _read(html).hidden.get(name)


def shown_error(html: str) -> str:
    """What a page says went wrong: the text of its first element of class ``error``
    (the dashboard's convention), else all its visible text; whitespace collapsed."""
    reader = _read(html)
    return " ".join("".join(reader.error or reader.text).split())
