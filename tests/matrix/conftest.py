"""The server matrix: ``check`` against servers it was not built against, judged by their logs.

Each test module starts one kind of server (module-scoped, from Debian's
packages or a runtime on the machine) and runs ``mtls-doctor check`` once per
lab identity. The expected verdict is what the server really did: every case
names the line the server writes when it does it, and the test waits for
that line in the server's own logs before it compares verdicts. Where the
server's answer cannot tell causes apart (one alert for every failure and no
CA names), ``rejected_unexplained`` is also an honest verdict; a confident
wrong cause never is.

The lab is a live one whose certificates point at a running lab CA
(caIssuers, CRL, OCSP): as in the field, the client can fetch a missing
intermediate and ask whether its certificate is revoked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.lab.responder import Responder, start_responder
from tests.cli import Run, run_cli
from tests.servers.real import RunningServer

#: The identities every server is tried with (None: no certificate at all).
IDENTITIES: tuple[str | None, ...] = (
    "good-ecdsa",
    "expired",
    "not-yet-valid",
    "revoked",
    "untrusted",
    "rotated",
    "missing-intermediate",
    "no-client-auth",
    "mismatched-key",
    "rsa-1024",
    None,
)
#: How long a server may take to write its log line after answering (s): generous, as
#: a loaded CI machine delays log writers (PostgreSQL) by seconds; it is only waited
#: out in full when the line never comes.
LOG_WAIT = 10.0


@dataclass(frozen=True)
class Truth:
    """What the server really does with one identity, and the log line that proves it."""

    cause: Cause
    #: A regular expression the server writes to its logs when it does it (None: nothing to see,
    #: e.g. the client could not even use its identity).
    evidence: str | None
    #: Other verdicts that are honest here: the server's answer cannot separate them (a
    #: cause other than rejected_unexplained must name ``cause`` as a remaining candidate).
    honest: tuple[Cause, ...] = ()
    #: A regular expression the server must NOT write (e.g. its "served" line for a refusal
    #: it does not explain in its log).
    absent: str | None = None


#: The chain failures a server that lists no CA names cannot tell apart with OpenSSL's alert
#: unknown_ca (or GnuTLS's access_denied): which one is true needs the server's CA bundle.
CHAIN_TRIPLE = ("untrusted", "rotated", "missing-intermediate")
NAMELESS = (
    Cause.UNTRUSTED_ISSUER,
    Cause.ISSUER_ROTATED,
    Cause.MISSING_INTERMEDIATE,
    Cause.REJECTED_UNEXPLAINED,
)


def nameless(cause: Cause, evidence: str) -> Truth:
    """A chain failure on a server that lists no CA names: the other candidates are honest."""
    return Truth(cause, evidence, honest=tuple(c for c in NAMELESS if c != cause))


@pytest.fixture(scope="session")
def matrix_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Responder]:
    """A live lab (real clock) whose certificates point at this running lab CA."""
    responder = start_responder(tmp_path_factory.mktemp("matrix") / "lab")
    try:
        yield responder
    finally:
        responder.stop()


@pytest.fixture(scope="session")
def matrix_lab(matrix_ca: Responder) -> LabPKI:
    """The lab served by :func:`matrix_ca`."""
    assert matrix_ca.pki is not None
    return matrix_ca.pki


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each check starts with an empty CRL/OCSP cache of its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def cases(truths: dict[str | None, Truth], xfail: dict[str | None, str] | None = None) -> list[Any]:
    """``pytest.param`` per identity (id: its name, or "none"); ``xfail``: identity -> reason."""
    assert set(truths) == set(IDENTITIES), set(IDENTITIES) ^ set(truths)
    marks = xfail or {}
    return [
        pytest.param(
            name,
            truths[name],
            id=name or "none",
            marks=[pytest.mark.xfail(strict=True, reason=marks[name])] if name in marks else [],
        )
        for name in IDENTITIES
    ]


class LogCursor:
    """What a server wrote to its logs (every ``*.log`` of its directory) after a point."""

    def __init__(self, *servers: RunningServer) -> None:
        self.directories = [s.directory for s in servers]
        self.start = {path: path.stat().st_size for path in self._files()}

    def _files(self) -> Iterable[Path]:
        for directory in self.directories:
            yield from sorted(directory.glob("*.log"))

    def text(self) -> str:
        """Everything written since the cursor was made."""
        parts = []
        for path in self._files():
            with path.open("rb") as handle:
                handle.seek(self.start.get(path, 0))
                parts.append(handle.read().decode(errors="replace"))
        return "\n".join(parts)

    def wait_for(self, pattern: str, context: object = "") -> str:
        """The new text once ``pattern`` shows up in it (fails after LOG_WAIT)."""
        deadline = time.monotonic() + LOG_WAIT
        while True:
            text = self.text()
            if re.search(pattern, text, re.MULTILINE) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert re.search(pattern, text, re.MULTILINE), (
            f"the server never logged {pattern!r}; it wrote:\n{text}\n{context}"
        )
        return text


def check(
    capsys: pytest.CaptureFixture[str], target: str, lab: LabPKI, identity: str | None, *extra: str
) -> Run:
    """``mtls-doctor check TARGET --json`` presenting lab identity ``identity`` (or none)."""
    argv = ["check", target, "--json", "--timeout", "5", *extra]
    if identity is not None:
        argv += ["--cert", str(lab.identities[identity].pem)]
    return run_cli(capsys, *argv)


def assert_agrees(
    capsys: pytest.CaptureFixture[str],
    servers: RunningServer | tuple[RunningServer, ...],
    lab: LabPKI,
    identity: str | None,
    truth: Truth,
    target: str | None = None,
    *extra: str,
) -> Run:
    """``check`` gives the verdict the server's own log proves (or an honest one)."""
    group = servers if isinstance(servers, tuple) else (servers,)
    logs = LogCursor(*group)
    result = check(capsys, target or group[0].url(), lab, identity, *extra)
    document = result.json
    cause = document["verdict"]["cause"]
    if truth.evidence is not None:
        logs.wait_for(truth.evidence, document["verdict"])
    if truth.absent is not None:
        assert not re.search(truth.absent, logs.text()), (logs.text(), document["verdict"])
    assert cause in {truth.cause, *truth.honest}, (cause, document["verdict"], result.err)
    assert result.code == (0 if cause == Cause.ACCEPTED else 1), result
    if cause != truth.cause:
        # An honest fallback shows its evidence (what the server answered) and, when it
        # names a cause, names the true one among the candidates that remain.
        answer = document["handshake"]
        refused_by_app = answer["application"] is not None and not answer["application"]["accepted"]
        # An alert, the application's refusal, or how the connection ended (a server that
        # closes without an alert, as gRPC's C core does).
        assert answer["tls_alert"] is not None or refused_by_app or answer["error"], answer
        if cause != Cause.REJECTED_UNEXPLAINED:
            assert str(truth.cause) in document["verdict"]["summary"], document["verdict"]
    return result


def assert_bundle_settles(
    capsys: pytest.CaptureFixture[str],
    server: RunningServer,
    lab: LabPKI,
    identity: str,
    truth: Truth,
    target: str | None = None,
) -> Run:
    """With the server's own CA bundle (``--ca-bundle``) the chain cause is exact, not a guess."""
    exact = Truth(truth.cause, truth.evidence)
    bundle = str(lab.client_ca_bundle)
    return assert_agrees(capsys, server, lab, identity, exact, target, "--ca-bundle", bundle)


def assert_probe(
    capsys: pytest.CaptureFixture[str], target: str, ca_names: list[str], *extra: str
) -> dict[str, Any]:
    """``probe`` says a certificate is required and lists the CA names the server sends."""
    result = run_cli(capsys, "probe", target, "--json", "--timeout", "5", *extra)
    assert result.code == 0, result
    document: dict[str, Any] = result.json
    assert document["client_auth"] == "required", document
    assert document["acceptable_ca_names"] == ca_names, document
    return document


def root_name(lab: LabPKI) -> str:
    """The lab root's name as ``probe`` lists it."""
    return lab.root.certificate.subject.rfc4514_string()
