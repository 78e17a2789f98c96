"""Finding PEM blocks in a file, in one pass.

Hand-written because the obvious regular expression
(``-----BEGIN (X)-----(.*?)-----END \\1-----``) is quadratic: for every BEGIN
line without an END it scans to the end of the file, so a megabyte of BEGIN
lines took minutes. cryptography parses the blocks; it does not say where
they are, nor which ones are broken or unterminated (what a diagnosis needs).

The rules are OpenSSL's PEM reader's: a block runs from a BEGIN line to the
next END line; a BEGIN that meets another BEGIN, or the end of the data,
first is unterminated; an END whose label differs from its BEGIN's breaks
that block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PemBlock", "PemScan", "scan_pem"]

_BEGIN = b"-----BEGIN "
_END = b"-----END "
_DASHES = b"-----"
_LABEL = re.compile(rb"[A-Z0-9 ]{1,64}")


@dataclass(frozen=True, slots=True)
class PemBlock:
    """One BEGIN ... END block: its label and its whole text (both marker lines included)."""

    label: bytes
    text: bytes


@dataclass(frozen=True, slots=True)
class PemScan:
    """The blocks of a file in order, and how many BEGIN lines found no matching END."""

    blocks: tuple[PemBlock, ...]
    unterminated: int


def _label_at(data: bytes, start: int) -> tuple[bytes, int] | None:
    """The label after a marker at ``start`` and where its line's dashes end, if well formed."""
    close = data.find(_DASHES, start, start + 80)
    if close < 0:
        return None
    label = data[start:close]
    if not _LABEL.fullmatch(label):
        return None
    return label, close + len(_DASHES)


def scan_pem(data: bytes) -> PemScan:
    """Every PEM block of ``data``, in time linear in its length."""
    blocks: list[PemBlock] = []
    unterminated = 0
    pos = data.find(_BEGIN)
    next_end = -2  # where the first END at or after ``pos`` starts (-1: none); -2: unknown
    while pos >= 0:
        parsed = _label_at(data, pos + len(_BEGIN))
        if parsed is None:  # "-----BEGIN " not followed by a label: not a block
            pos = data.find(_BEGIN, pos + len(_BEGIN))
            continue
        label, body = parsed
        if next_end != -1 and next_end < body:
            next_end = data.find(_END, body)
        if next_end < 0:
            # No END anywhere after: this BEGIN and every later one are unterminated.
            unterminated += 1 + data.count(_BEGIN, body)
            break
        following = data.find(_BEGIN, body, next_end)
        if following >= 0:  # another BEGIN before the END: this block never ended
            unterminated += 1
            pos = following
            continue
        closing = _label_at(data, next_end + len(_END))
        after = next_end + len(_END)
        if closing is None or closing[0] != label:
            unterminated += 1  # END of another block: this one is broken
        else:
            after = closing[1]
            blocks.append(PemBlock(label=label, text=data[pos:after]))
        pos = data.find(_BEGIN, after)
    return PemScan(blocks=tuple(blocks), unterminated=unterminated)
