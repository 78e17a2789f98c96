"""Reading what Chromium did from its net log (the parser the browser proof relies on)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mtls_doctor.lab.browser import BrowserCase, BrowserRun, read_net_log

URL = "https://127.0.0.1:4443/"
TYPES = {
    "URL_REQUEST_START_JOB": 1,
    "REQUEST_ALIVE": 2,
    "SSL_CLIENT_CERT_REQUESTED": 3,
    "SSL_CLIENT_CERT_PROVIDED": 4,
}


def _log(tmp_path: Path, events: list[tuple[str, int, dict[str, object] | None]]) -> Path:
    path = tmp_path / "net.json"
    document = {
        "constants": {"logEventTypes": TYPES},
        "events": [
            {"type": TYPES[name], "source": {"id": source}, **({"params": p} if p else {})}
            for name, source, p in events
        ],
    }
    path.write_text(json.dumps(document))
    return path


def test_certificate_sent_and_the_page_error(tmp_path: Path) -> None:
    path = _log(
        tmp_path,
        [
            ("URL_REQUEST_START_JOB", 7, {"url": "http://clients2.google.com/"}),
            ("REQUEST_ALIVE", 7, {"net_error": -105}),  # a background request: ignored
            ("URL_REQUEST_START_JOB", 9, {"url": URL}),
            ("SSL_CLIENT_CERT_REQUESTED", 11, None),
            ("SSL_CLIENT_CERT_PROVIDED", 11, {"cert_count": 2}),
            ("REQUEST_ALIVE", 9, {"net_error": -117}),
        ],
    )
    assert read_net_log(path, URL) == (True, True, -117)


def test_no_certificate_provided(tmp_path: Path) -> None:
    path = _log(
        tmp_path,
        [
            ("URL_REQUEST_START_JOB", 9, {"url": URL}),
            ("SSL_CLIENT_CERT_REQUESTED", 11, None),
            ("SSL_CLIENT_CERT_PROVIDED", 11, {"cert_count": 0}),
        ],
    )
    assert read_net_log(path, URL) == (False, True, 0)


def test_missing_or_truncated_log(tmp_path: Path) -> None:
    assert read_net_log(tmp_path / "absent.json", URL) == (False, False, 0)
    broken = tmp_path / "broken.json"
    broken.write_text('{"constants": {')  # Chromium killed before any event
    assert read_net_log(broken, URL) == (False, False, 0)


def test_log_of_a_killed_chromium_is_still_read(tmp_path: Path) -> None:
    """Chromium writes events as they happen; killed, it never closes the array."""
    path = _log(
        tmp_path,
        [
            ("SSL_CLIENT_CERT_REQUESTED", 11, None),
            ("SSL_CLIENT_CERT_PROVIDED", 11, {"cert_count": 1}),
        ],
    )
    text = path.read_text()
    path.write_text(text[: text.rindex("]")] + ",\n")
    assert read_net_log(path, URL) == (True, True, 0)


def test_what_the_browser_showed() -> None:
    def case(**run: object) -> BrowserCase:
        base = {"url": URL, "certificate_sent": True, "certificate_requested": True}
        return BrowserCase(
            identity="x",
            server="strict",
            run=BrowserRun(**{**base, "net_error": 0, "page": "", **run}),  # type: ignore[arg-type]
            predicted_sent=True,
            reasons=(),
            cause="accepted",
        )

    assert case(page="lab: client certificate accepted").showed == "the page (served)"
    assert case(page="<center>No required SSL certificate was sent</center>").showed == (
        "400 No required SSL certificate was sent"
    )
    assert case(net_error=-117).showed == "ERR_BAD_SSL_CLIENT_AUTH_CERT"
    assert case(net_error=-9999).showed == "net error -9999"
    timed_out = case(timed_out=True)
    assert "still waiting" in timed_out.showed
    assert not timed_out.agrees


def test_orphaned_policy_files_of_dead_runs_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    from mtls_doctor.lab import browser

    monkeypatch.setattr(browser, "POLICY_DIR", tmp_path)
    monkeypatch.setattr(browser, "LOCK_PATH", tmp_path / "lock")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    orphan = tmp_path / f"mtls-doctor-{int(dead.stdout)}-0badc0de.json"
    alive = tmp_path / f"mtls-doctor-{os.getppid()}-0badc0de.json"
    foreign = tmp_path / "corporate.json"
    for path in (orphan, alive, foreign):  # (the lock file is not a policy: no .json)
        path.write_text("{}")
    with browser.autoselect_everything(["https://127.0.0.1:1"]) as ours:
        assert ours.exists()
        assert not orphan.exists()
        assert alive.exists() and foreign.exists()
    assert not ours.exists()
    assert browser.conflicting_policy() is None
    foreign.write_text('{"AutoSelectCertificateForUrls": []}')
    assert browser.conflicting_policy() == foreign
