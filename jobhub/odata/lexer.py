"""Tokens of a ``$filter`` or ``$orderby``, scanned on demand with their positions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, TypeAlias
from uuid import UUID

from jobhub.odata.nodes import (
    INT64,
    MAX_FILTER_LENGTH,
    MAX_STRING_LENGTH,
    InvalidFilter,
    Value,
)

TokenKind: TypeAlias = Literal["word", "string", "number", "datetime", "guid", "(", ")", ",", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    position: int
    value: Value = None


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEX = "[0-9A-Fa-f]"
_GUID = re.compile(
    rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}(?![A-Za-z0-9_-])"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})(?![A-Za-z0-9_.:+-])"
)
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9_.])")
_PUNCTUATION: dict[str, TokenKind] = {"(": "(", ")": ")", ",": ","}


class Lexer:
    """Tokens on demand, so the first error reported is the first one in the text."""

    def __init__(self, text: str) -> None:
        if len(text) > MAX_FILTER_LENGTH:
            raise InvalidFilter(
                f"expected at most {MAX_FILTER_LENGTH} characters", MAX_FILTER_LENGTH
            )
        self.text = text
        self.pos = 0
        self._peeked: Token | None = None

    def peek(self) -> Token:
        if self._peeked is None:
            self._peeked = self._scan()
        return self._peeked

    def take(self) -> Token:
        token = self.peek()
        self._peeked = None
        return token

    def _scan(self) -> Token:
        text = self.text
        while self.pos < len(text) and text[self.pos].isspace():
            self.pos += 1
        start = self.pos
        if start == len(text):
            return Token("end", "", start)
        char = text[start]
        if char in _PUNCTUATION:
            self.pos += 1
            return Token(_PUNCTUATION[char], char, start)
        if char == "'":
            return self._string(start)
        if match := _GUID.match(text, start):
            return self._token("guid", match.group(), start, UUID(match.group()))
        if char.isascii() and (char.isdigit() or char == "-"):
            return self._number_or_datetime(start)
        if match := _WORD.match(text, start):
            return self._token("word", match.group(), start)
        raise InvalidFilter(f"unexpected character {char!r}", start)

    def _token(self, kind: TokenKind, source: str, start: int, value: Value = None) -> Token:
        self.pos = start + len(source)
        return Token(kind, source, start, value)

    def _string(self, start: int) -> Token:
        parts: list[str] = []
        size = 0
        at = start + 1
        while True:
            end = self.text.find("'", at)
            if end < 0:
                raise InvalidFilter("expected a closing quote for the string", start)
            parts.append(self.text[at:end])
            size += end - at
            if size > MAX_STRING_LENGTH:
                raise InvalidFilter(
                    f"expected a string of at most {MAX_STRING_LENGTH} characters", start
                )
            if self.text.startswith("''", end):
                parts.append("'")
                size += 1
                at = end + 2
                continue
            break
        value = "".join(parts)
        if "\x00" in value or not _encodable(value):
            raise InvalidFilter("expected a string without NUL or unpaired surrogates", start)
        return self._token("string", self.text[start : end + 1], start, value)

    def _number_or_datetime(self, start: int) -> Token:
        text = self.text
        if _DATE.match(text, start):
            match = _DATETIME.match(text, start)
            if match is None:
                raise InvalidFilter(
                    "expected a datetime with a time and a zone, such as 2026-01-01T00:00:00Z"
                    " or 2026-01-01T02:00:00+02:00",
                    start,
                )
            source = match.group()
            try:
                moment = datetime.fromisoformat(source.upper().replace("Z", "+00:00"))
                moment = moment.astimezone(UTC)
            except (ValueError, OverflowError):
                raise InvalidFilter("expected a valid datetime", start) from None
            return self._token("datetime", source, start, moment)
        match = _NUMBER.match(text, start)
        if match is None:
            raise InvalidFilter("expected a number, a datetime or a guid", start)
        source = match.group()
        number: int | Decimal = Decimal(source) if "." in source else int(source)
        if not -INT64 <= number <= INT64:
            raise InvalidFilter("expected a number within the 64-bit integer range", start)
        return self._token("number", source, start, number)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
