"""``mtls-doctor explain`` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import assert_one_clean_error_line, run_cli, run_process

CURL_EXPIRED = (
    "curl: (56) OpenSSL SSL_read: OpenSSL/3.0.22: error:0A000415:SSL routines::"
    "sslv3 alert certificate expired, errno 0"
)
NGINX_LOG = """\
2026/06/01 12:00:01 [info] 7#7: *1 client SSL certificate verify error: (10:certificate has expired) while reading client request headers, client: 10.0.0.7, server: api.example.com, request: "GET / HTTP/1.1", host: "api.example.com"
2026/06/01 12:00:02 [notice] 7#7: signal process started
2026/06/01 12:00:03 [info] 7#7: *2 client SSL certificate verify error: (10:certificate has expired) while reading client request headers, client: 10.0.0.8, server: api.example.com, request: "GET / HTTP/1.1", host: "api.example.com"
2026/06/01 12:00:04 [info] 7#7: *3 client sent no required SSL certificate while reading client request headers, client: 10.0.0.9, server: api.example.com
"""  # noqa: E501
CONTRACT_MATCH_FIELDS = {"text", "source", "causes", "next_step"}


def test_one_message_as_argument_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "explain", "--json", CURL_EXPIRED)
    assert result.code == 1
    document = result.json
    assert document["known"] is True
    [match] = document["matches"]
    assert CONTRACT_MATCH_FIELDS <= set(match)
    assert match["text"] == CURL_EXPIRED
    assert match["source"] == "curl"
    assert match["causes"] == ["certificate_expired", "rejected_unexplained"]
    assert match["alert"] == {"code": 45, "name": "certificate_expired"}
    assert "the server sent TLS alert 45 certificate_expired" in match["said"]
    assert "mtls-doctor check" in match["next_step"]
    assert match["cannot_distinguish"]
    assert match["reference"]
    assert result.err == ""


def test_a_log_file_groups_repeats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "error.log"
    log.write_text(NGINX_LOG)
    result = run_cli(capsys, "explain", "--json", "--file", str(log))
    assert result.code == 1
    matches = result.json["matches"]
    assert [(m["source"], m["count"], m["lines"]) for m in matches] == [
        ("nginx", 2, [1, 3]),
        ("nginx", 1, [4]),
    ]
    assert matches[0]["verify_error"] == {"code": 10, "text": "certificate has expired"}
    assert matches[0]["causes"] == ["certificate_expired"]
    assert "https://api.example.com" in matches[0]["next_step"]


def test_text_on_stdin_in_a_real_process() -> None:
    result = run_process("explain", input_text=NGINX_LOG)
    assert result.code == 1
    assert "nginx" in result.out
    assert "certificate_expired" in result.out
    assert "2 times (lines 1, 3)" in result.out
    assert "Traceback" not in result.err


def test_unknown_text_is_said_to_be_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "explain", "--json", "my coffee machine says E42")
    assert result.code == 1
    assert result.json["known"] is False
    assert result.json["matches"] == []
    assert result.json["message"] == "not a client-certificate error I know"
    assert "mtls-doctor check" in result.json["next_step"]
    text = run_cli(capsys, "explain", "my coffee machine says E42")
    assert text.code == 1
    assert "Not a client-certificate error I know" in text.out


def test_ambiguous_chrome_error_lists_all_its_causes(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "explain", "ERR_BAD_SSL_CLIENT_AUTH_CERT")
    assert result.code == 1
    for cause in ("no_certificate_sent", "untrusted_issuer", "certificate_expired",
                  "certificate_revoked"):  # fmt: skip
        assert cause in result.out
    assert "-117" in result.out  # what it cannot tell apart, and why


def test_server_certificate_errors_are_not_blamed_on_the_client(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_cli(
        capsys, "explain", "--json",
        "curl: (60) SSL certificate problem: unable to get local issuer certificate",
    )  # fmt: skip
    [match] = result.json["matches"]
    assert match["scope"] == "server_certificate"
    assert match["causes"] == []


@pytest.mark.parametrize("argv", [["explain", ""], ["explain", "--json", "   "]])
def test_empty_input_is_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, *argv)
    assert result.code == 2
    if "--json" in argv:
        assert result.json["error"]["code"] == "usage"
    else:
        assert_one_clean_error_line(result, 2)


def test_empty_stdin_is_a_usage_error() -> None:
    result = run_process("explain", "--json", input_text="")
    assert result.code == 2
    assert '"usage"' in result.out


def test_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "explain", "--file", str(tmp_path / "nope.log"))
    assert_one_clean_error_line(result, 2)


def test_explain_never_imports_cryptography() -> None:
    code = (
        "import sys\n"
        "from mtls_doctor.cli import main\n"
        "main(['explain', '--json', 'ERR_BAD_SSL_CLIENT_AUTH_CERT'])\n"
        "heavy = [m for m in ('cryptography', 'OpenSSL') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "HEAVY []" in done.stderr


def test_a_log_larger_than_64_mib_is_streamed(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    noise = b"2026/06/01 12:00:00 [notice] 7#7: worker process 8 exited with code 0\n" * 1000
    with log.open("wb") as handle:
        for _ in range(1000):  # 70 MB
            handle.write(noise)
        handle.write(NGINX_LOG.encode())
    result = run_process("explain", "--json", "--file", str(log), timeout=120)
    assert result.code == 1, result.err
    document = json.loads(result.out)
    assert document["lines_read"] == 1_000_004
    assert [(m["count"], m["lines"]) for m in document["matches"]] == [
        (2, [1_000_001, 1_000_003]),
        (1, [1_000_004]),
    ]


def test_tail_and_since_keep_the_real_line_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "error.log"
    log.write_text(NGINX_LOG)
    tail = run_cli(capsys, "explain", "--json", "--tail", "2", "--file", str(log))
    assert [m["lines"] for m in tail.json["matches"]] == [[3], [4]]
    assert (tail.json["lines_read"], tail.json["lines_skipped"]) == (2, 2)
    piped = run_process("explain", "--json", "--tail", "1", input_text=NGINX_LOG)
    assert [m["lines"] for m in json.loads(piped.out)["matches"]] == [[4]]
    since = run_cli(capsys, "explain", "--json", "--since", "2026-06-01 12:00:02", "--file",
                    str(log))  # fmt: skip
    assert [m["lines"] for m in since.json["matches"]] == [[3], [4]]
    later = run_cli(capsys, "explain", "--json", "--since", "2027-01-01", "--file", str(log))
    assert later.code == 1
    assert (later.json["known"], later.json["lines_skipped"]) == (False, 4)


@pytest.mark.parametrize(
    "argv",
    [["--since", "last tuesday", "x509"], ["--tail", "0", "x509"], ["--tail", "many", "x509"]],
)
def test_bad_since_and_tail_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "explain", *argv)
    assert result.code == 2


def test_devices_and_fifos_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero", "/dev/urandom"):
        result = run_process("explain", "--file", path, timeout=20)
        assert_one_clean_error_line(result, 2)
        assert "not a regular file" in result.err
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run(
            [sys.executable, "-m", "mtls_doctor", "explain", "--json"],
            stdin=zero, capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["code"] == "input"


def test_terminal_escapes_in_the_input_are_shown_not_obeyed() -> None:
    line = "curl: (56) OpenSSL SSL_read: \x1b]0;pwned\x07\x1b[2J tlsv1 alert unknown ca, errno 0"
    text = run_process("explain", input_text=line + "\n")
    assert text.code == 1
    assert "\x1b" not in text.out and "\x07" not in text.out
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in text.out
    as_json = run_process("explain", "--json", input_text=line + "\n")
    assert json.loads(as_json.out)["matches"][0]["text"] == line


def test_skipped_lines_are_said_in_text(tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    log.write_text(NGINX_LOG)
    result = run_process("explain", "--tail", "1", "--file", str(log))
    assert "after skipping 3" in result.out
    assert "line 4" in result.out


#: Feeds 200 MB of log noise and one curl line to ``explain`` and reports its peak RSS.
#: It runs in a process of its own: a child forked from this test process would count
#: pytest's own pages (which grow with the suite) in its peak until it execs.
_STREAM_200_MB = """
import json, os, subprocess, sys
child = subprocess.Popen(
    [sys.executable, "-m", "mtls_doctor", "explain", "--json"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
)
noise = b"2026/06/01 12:00:00 [notice] 7#7: worker process 8 exited with code 0\\n" * 10_000
for _ in range(300):
    child.stdin.write(noise)
child.stdin.write(sys.argv[1].encode() + b"\\n")
child.stdin.close()
output = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "peak_kib": usage.ru_maxrss,
                  "document": json.loads(output)}))
"""


def test_stdin_of_any_size_is_streamed_in_bounded_memory() -> None:
    """200 MB on a pipe, never on disk: explained with a peak RSS far below the input."""
    done = subprocess.run(
        [sys.executable, "-c", _STREAM_200_MB, CURL_EXPIRED],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result = json.loads(done.stdout)
    assert result["code"] == 1
    document = result["document"]
    assert document["lines_read"] == 3_000_001
    assert [m["lines"] for m in document["matches"]] == [[3_000_001]]
    assert result["peak_kib"] < 64 * 1024, f"peak RSS {result['peak_kib']} KiB"
