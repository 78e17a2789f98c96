"""Reading a log of any size for ``explain``: blocks of whole lines, in bounded memory.

Only regular files (opened by mtls_doctor.files) and standard input are read
(a FIFO named by --file, or ``/dev/zero``, would block or never end). The
input is read in blocks that end at a line break; a line longer than
``max_line`` bytes is cut there and the rest of it skipped, so that no line
is ever held whole. ``--tail N`` keeps the last N lines (a file is read from
its end); ``--since`` skips the lines written before a time, read from the
timestamps the common log formats start their lines with (nginx and Apache
error and access logs, ISO 8601, syslog). Hand-written: these are a handful
of fixed formats, and a general date parser would be slower than the
matching it guards.
"""

from __future__ import annotations

import os
import re
import stat
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import BinaryIO

from mtls_doctor.errors import InputError, UsageError

#: Bytes read at a time.
BLOCK = 1 << 20
#: A line is cut after this many bytes (the matcher looks at 4000 characters).
MAX_LINE_BYTES = 16_000
#: How far into a line its timestamp may start.
_STAMP_WINDOW = 120

#: A time as (year, month, day, hour, minute, second): compared as written in the log.
Stamp = tuple[int, int, int, int, int, int]

_MONTHS = {
    m: i
    for i, m in enumerate(
        (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct",
         b"nov", b"dec"),
        1,
    )
}  # fmt: skip
_ISO = re.compile(rb"(\d{4})[-/](\d\d)[-/](\d\d)[T ](\d\d):(\d\d):(\d\d)")
_ACCESS = re.compile(rb"\[(\d\d)/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d)")
_APACHE = re.compile(
    rb"\[[A-Za-z]{3} ([A-Za-z]{3}) +(\d\d?) (\d\d):(\d\d):(\d\d)(?:\.\d+)? (\d{4})\]"
)
_SYSLOG = re.compile(rb"^([A-Za-z]{3}) +(\d\d?) (\d\d):(\d\d):(\d\d)\b")
_RELATIVE = re.compile(r"(\d+)\s*([smhd])")
_ABSOLUTE = re.compile(r"(\d{4})[-/](\d\d)[-/](\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def check_stdin(fd: int) -> None:
    """Refuse a device as standard input (``< /dev/zero`` would never end)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISDIR(mode):
        raise InputError("standard input is a device, not text: pipe a log into it or use --file")


def blocks(
    stream: BinaryIO, *, size: int = BLOCK, max_line: int = MAX_LINE_BYTES
) -> Iterator[bytes]:
    """Blocks of whole lines (the last may lack its newline); long lines cut."""
    carry = b""
    skipping = False  # inside a cut line: drop bytes up to its newline
    while data := stream.read(size):
        if skipping:
            newline = data.find(b"\n")
            if newline < 0:
                continue
            data = data[newline:]
            skipping = False
        buffer = carry + data if carry else data
        last = buffer.rfind(b"\n")
        if last >= 0:
            yield buffer[: last + 1]
            carry = buffer[last + 1 :]
        else:
            carry = buffer
        if len(carry) > max_line:
            carry = carry[:max_line]
            skipping = True
    if carry:
        yield carry


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines with their newlines (split at newlines only, as the explainer counts)."""
    for chunk in chunks:
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            end = len(chunk) if end < 0 else end + 1
            yield chunk[start:end]
            start = end


def tail_of_stream(chunks: Iterable[bytes], count: int) -> Iterator[tuple[int, bytes]]:
    """The last ``count`` lines of a stream, after how many lines it skipped."""
    kept: deque[bytes] = deque(maxlen=count)
    total = 0
    for line in _lines(chunks):
        total += 1
        if count:
            kept.append(line)
    yield total - len(kept), b"".join(kept)


def tail_offset(handle: BinaryIO, count: int) -> tuple[int, int]:
    """Where the last ``count`` lines of a regular file start: (lines before, byte offset)."""
    end = handle.seek(0, os.SEEK_END)
    position, needed = end, count
    if end:
        handle.seek(end - 1)
        if handle.read(1) == b"\n":
            needed += 1  # the final newline ends the last line, it starts none
    offset = 0
    while position > 0 and needed > 0:
        start = max(0, position - BLOCK)
        handle.seek(start)
        data = handle.read(position - start)
        index = len(data)
        while needed > 0:
            index = data.rfind(b"\n", 0, index)
            if index < 0:
                break
            needed -= 1
        if needed == 0:
            offset = start + index + 1
        position = start
    before = 0
    handle.seek(0)
    remaining = offset
    while remaining > 0:
        data = handle.read(min(BLOCK, remaining))
        if not data:
            break
        before += data.count(b"\n")
        remaining -= len(data)
    handle.seek(offset)
    return before, offset


def parse_since(text: str, now: datetime | None = None) -> Stamp:
    """A time (``2026-06-01``, ``2026-06-01T12:00[:00]``) or a duration ago (``2h``, ``7d``)."""
    value = text.strip()
    relative = _RELATIVE.fullmatch(value)
    if relative:
        moment = (now or datetime.now()) - timedelta(
            **{_UNITS[relative.group(2)]: int(relative.group(1))}
        )
        return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    absolute = _ABSOLUTE.fullmatch(value)
    if absolute:
        y, mo, d, h, mi, s = (int(p) if p else 0 for p in absolute.groups())
        try:
            datetime(y, mo, d, h, mi, s)
        except ValueError:
            pass
        else:
            return (y, mo, d, h, mi, s)
    raise UsageError(
        f"--since {text!r}: give a time as 2026-06-01, 2026-06-01T12:00 or "
        "'2026-06-01 12:00:00', or a duration ago as 30m, 2h or 7d"
    )


def line_stamp(line: bytes, year: int) -> Stamp | None:
    """The timestamp a log line starts with (``year`` for syslog, which has none)."""
    head = line[:_STAMP_WINDOW]
    found = _ISO.search(head)
    if found:
        y, mo, d, h, mi, s = (int(g) for g in found.groups())
        return (y, mo, d, h, mi, s)
    found = _ACCESS.search(head)
    if found and found.group(2).lower() in _MONTHS:
        day, month, rest = found.group(1), found.group(2), found.groups()[2:]
        return _stamp(rest[0], month, day, *rest[1:])
    found = _APACHE.search(head)
    if found and found.group(1).lower() in _MONTHS:
        month, day, hour, minute, second, year_text = found.groups()
        return _stamp(year_text, month, day, hour, minute, second)
    found = _SYSLOG.match(head)
    if found and found.group(1).lower() in _MONTHS:
        month, day, hour, minute, second = found.groups()
        return _stamp(str(year).encode(), month, day, hour, minute, second)
    return None


def _stamp(year: bytes, month: bytes, *rest: bytes) -> Stamp:
    day, hour, minute, second = (int(part) for part in rest)
    return (int(year), _MONTHS[month.lower()], day, hour, minute, second)


def since(events: Iterable[tuple[int, bytes]], moment: Stamp) -> Iterator[tuple[int, bytes]]:
    """(lines skipped, block) from the first line stamped at or after ``moment``.

    Logs are written in time order: once such a line is found, everything
    after it is kept (lines without a timestamp included).
    """
    skipped = 0
    iterator = iter(events)
    for before, chunk in iterator:
        skipped += before
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            end = len(chunk) if end < 0 else end + 1
            stamp = line_stamp(chunk[start:end], moment[0])
            if stamp is not None and stamp >= moment:
                yield skipped, chunk[start:]
                yield from iterator
                return
            skipped += 1
            start = end
    yield skipped, b""
