"""Reading logs for ``explain``: whole-line blocks, cut long lines, tail, since, refusals."""

from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path

import pytest

from mtls_doctor import logread
from mtls_doctor.errors import InputError, UsageError
from mtls_doctor.files import open_regular_file
from mtls_doctor.knowledge import Explainer, explain
from mtls_doctor.knowledge.explaining import MAX_GROUPS, MAX_LINE_NUMBERS

ALERT = (
    "2026/06/01 12:00:0{s} [info] 7#7: *{n} SSL_do_handshake() failed (SSL: error:0A000418:"
    "SSL routines::tlsv1 alert unknown ca:SSL alert number 48) while SSL handshaking, "
    "client: 10.0.0.{n}, server: 0.0.0.0:443"
)


def test_blocks_end_at_line_breaks_and_keep_every_byte() -> None:
    text = b"".join(b"line %d with some words\n" % i for i in range(5000)) + b"last"
    chunks = list(logread.blocks(io.BytesIO(text), size=1000))
    assert b"".join(chunks) == text
    assert all(chunk.endswith(b"\n") for chunk in chunks[:-1])
    assert len(chunks) > 50


def test_a_long_line_is_cut_and_never_held_whole() -> None:
    head = b"curl: (56) OpenSSL SSL_read: error:0A000418:SSL routines::tlsv1 alert unknown ca "
    huge = head + b"x" * 5_000_000 + b"\nnext line\n"
    chunks = list(logread.blocks(io.BytesIO(huge), size=4096, max_line=1000))
    assert max(len(c) for c in chunks) <= 1000 + 4096
    assert b"".join(chunks) == huge[:1000] + b"\nnext line\n"
    result = Explainer()
    for chunk in chunks:
        result.feed(chunk)
    [match] = result.result().matches
    assert match.alert is not None and match.alert.code == 48
    assert result.lines_read == 2


def test_lines_are_numbered_across_blocks_and_groups_are_bounded() -> None:
    explainer = Explainer()
    lines = [ALERT.format(s=n % 10, n=n) if n % 3 == 0 else f"noise {n}" for n in range(3000)]
    data = ("\n".join(lines) + "\n").encode()
    for chunk in logread.blocks(io.BytesIO(data), size=777):
        explainer.feed(chunk)
    result = explainer.result()
    [match] = result.matches
    assert match.count == 1000
    assert match.lines[:3] == (1, 4, 7)
    assert len(match.lines) == min(1000, MAX_LINE_NUMBERS)
    assert result.lines_read == 3000


def test_distinct_wordings_past_the_bound_share_their_entrys_group() -> None:
    explainer = Explainer()
    # Each line a different verify error wording would be a new group; the same
    # entry with more distinct wordings than MAX_GROUPS stays bounded.
    line = "curl: (58) unable to set private key file: 'client{n}.pem' type PEM\n"
    explainer.feed("".join(line.format(n=n) for n in range(MAX_GROUPS + 500)).encode())
    result = explainer.result()
    assert len(result.matches) <= MAX_GROUPS + 1
    assert sum(m.count for m in result.matches) == MAX_GROUPS + 500


def test_windows_line_endings_and_a_missing_final_newline() -> None:
    result = explain("hello\r\n" + ALERT.format(s=1, n=1) + "\r\nbye")
    [match] = result.matches
    assert match.lines == (2,)
    assert not match.text.endswith("\r")
    assert result.lines_read == 3


def test_tail_of_a_file_seeks_and_keeps_the_numbering(tmp_path: Path) -> None:
    path = tmp_path / "error.log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(1, 200_001)))
    with open_regular_file(path) as handle:
        before, offset = logread.tail_offset(handle, 3)
        assert before == 199_997
        assert offset == len(b"".join(b"line %d\n" % i for i in range(1, 199_998)))
        assert handle.read() == b"line 199998\nline 199999\nline 200000\n"
    path.write_bytes(b"a\nb\nc")  # no final newline
    with open_regular_file(path) as handle:
        assert logread.tail_offset(handle, 2) == (1, 2)
        assert logread.tail_offset(handle, 10) == (0, 0)


def test_tail_of_a_stream() -> None:
    chunks = [b"1\n2\n3\n", b"4\n5"]
    assert list(logread.tail_of_stream(chunks, 2)) == [(3, b"4\n5")]


def test_since_skips_the_lines_before_the_first_stamp_at_or_after_it() -> None:
    log = (
        b"2026/06/01 11:59:59 [info] old\n"
        b"continuation without a stamp\n"
        b"2026/06/01 12:00:00 [info] new\n"
        b"no stamp, kept\n"
        b"2026/06/01 11:00:00 [info] out of order, kept\n"
    )
    cut = log.index(b"\n") + 1
    events = list(logread.since([(0, log[:cut]), (0, log[cut:])], (2026, 6, 1, 12, 0, 0)))
    skipped = sum(s for s, _ in events)
    kept = b"".join(b for _, b in events)
    assert skipped == 2
    assert kept.startswith(b"2026/06/01 12:00:00 [info] new\n")
    assert kept.endswith(b"out of order, kept\n")


@pytest.mark.parametrize(
    ("line", "stamp"),
    [
        (b"2026/06/01 12:00:01 [crit] 7#7: x", (2026, 6, 1, 12, 0, 1)),
        (b'10.0.0.1 - - [01/Jun/2026:12:00:02 +0000] "GET / HTTP/1.1"', (2026, 6, 1, 12, 0, 2)),
        (b"[Mon Jun 01 12:00:03.123456 2026] [ssl:error] [pid 9]", (2026, 6, 1, 12, 0, 3)),
        (b"Jun  1 12:00:04 host haproxy[7]: x", (2026, 6, 1, 12, 0, 4)),
        (b"2026-06-01T12:00:05.123Z level=error", (2026, 6, 1, 12, 0, 5)),
        (b"no time here", None),
    ],
)
def test_timestamps_of_common_log_formats(line: bytes, stamp: logread.Stamp | None) -> None:
    assert logread.line_stamp(line, 2026) == stamp


def test_since_values() -> None:
    now = datetime(2026, 6, 1, 12, 0, 0)
    assert logread.parse_since("2026-06-01", now) == (2026, 6, 1, 0, 0, 0)
    assert logread.parse_since("2026/06/01 12:30", now) == (2026, 6, 1, 12, 30, 0)
    assert logread.parse_since("2026-06-01T12:30:15", now) == (2026, 6, 1, 12, 30, 15)
    assert logread.parse_since("90m", now) == (2026, 6, 1, 10, 30, 0)
    assert logread.parse_since("2d", now) == (2026, 5, 30, 12, 0, 0)
    for bad in ("yesterday", "2026-13-01", "5y", ""):
        with pytest.raises(UsageError, match="--since"):
            logread.parse_since(bad, now)


def test_a_device_on_standard_input_is_refused() -> None:
    fd = os.open("/dev/zero", os.O_RDONLY)
    try:
        with pytest.raises(InputError, match="device"):
            logread.check_stdin(fd)
    finally:
        os.close(fd)
    read, write = os.pipe()
    try:
        logread.check_stdin(read)  # a pipe is what stdin usually is
    finally:
        os.close(read)
        os.close(write)
