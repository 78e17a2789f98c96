"""The corpus: real messages (tests/corpus/) and the causes explain must give.

live.txt was captured from real programs against the lab servers by
tests/adapters/test_explain_live.py (which re-captures and checks on every
run); documented.txt holds the documented wordings of programs we cannot
run here (browsers, Java, Go, .NET, Envoy, ...). Line format: see the header
of documented.txt. The test reports the coverage and fails below 100%.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mtls_doctor.causes import Cause
from mtls_doctor.knowledge import explain

CORPUS = Path(__file__).parent.parent / "corpus"


@dataclass(frozen=True)
class CorpusLine:
    file: str
    number: int
    kind: str
    causes: tuple[Cause, ...]
    text: str


def read_corpus() -> list[CorpusLine]:
    lines = []
    for path in sorted(CORPUS.glob("*.txt")):
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip() or raw.startswith("#"):
                continue
            head, sep, text = raw.partition(" | ")
            assert sep, f"{path.name}:{number}: no ' | ' separator"
            kind, *codes = head.split()
            assert kind in ("=", ">", "~", "?"), f"{path.name}:{number}: bad kind {kind!r}"
            lines.append(CorpusLine(path.name, number, kind, tuple(Cause(c) for c in codes), text))
    return lines


def problem(line: CorpusLine) -> str | None:
    """Why explain's answer for this line is wrong (None when it is right)."""
    result = explain(line.text)
    given = [c for m in result.matches for c in m.causes]
    if line.kind == "?":
        return None if not result.known else f"should be unknown, got {given}"
    if not result.known:
        return "not recognised"
    if line.kind == "~":
        return None if not given else f"should name no cause, got {given}"
    if line.kind == ">":
        return None if line.causes[0] in given else f"{line.causes[0]} not in {given}"
    if len(result.matches) != 1:
        return f"{len(result.matches)} matches"
    got = result.matches[0].causes
    return None if got == line.causes else f"expected {list(line.causes)}, got {list(got)}"


def test_corpus_is_large_and_mostly_live() -> None:
    lines = read_corpus()
    live = [line for line in lines if line.file == "live.txt"]
    assert len(lines) >= 150
    assert len(live) > len(lines) / 2
    assert sum(line.kind == "?" for line in lines) >= 5, "unknown text must be tested too"


def test_every_corpus_line_is_explained_right() -> None:
    lines = read_corpus()
    failures = [(line, why) for line in lines if (why := problem(line))]
    explained = len(lines) - len(failures)
    coverage = 100 * explained / len(lines)
    report = f"corpus coverage: {explained}/{len(lines)} lines ({coverage:.1f}%)"
    print(report)
    details = "\n".join(f"{c.file}:{c.number}: {why}: {c.text[:120]}" for c, why in failures)
    assert not failures, f"{report}\n{details}"


#: The families issue 16 found missing, by the entries that explain them.
FAMILIES = {
    "curl -v trace": {
        "curl.trace_alert_received", "curl.trace_alert_sent", "curl.expired_alert_as_60",
    },
    "GnuTLS clients": {
        "gnutls.received_alert", "gnutls.handshake_failed_alert",
        "gnutls.handshake_failed_terminated", "gnutls.sent_certificates", "gnutls.key_file_error",
    },
    "bad CertificateVerify signature": {
        "openssl.bad_signature", "nginx.bad_signature", "apache.bad_signature",
    },
    "nginx $ssl_client_verify": {"nginx.ssl_client_verify_failed"},
    "interstitial and platform texts": {
        "chrome.bad_ssl_client_auth_cert", "dotnet.tls_alert",
        "dotnet.no_eligible_client_certificate", "dotnet.client_certificate_skipped",
    },
    "false match (server's certificate)": {
        "python.server_certificate_verify_failed", "go.x509_unknown_authority",
        "go.x509_unknown_authority_rotated", "curl.server_certificate_problem",
    },
}  # fmt: skip


def test_every_family_has_corpus_lines_that_are_not_the_entries_examples() -> None:
    from mtls_doctor.knowledge import load_knowledge

    examples = {line for entry in load_knowledge().entries for line in entry.examples}
    for family, ids in FAMILIES.items():
        fresh = [
            line.text
            for line in read_corpus()
            if line.text not in examples and {m.entry.id for m in explain(line.text).matches} & ids
        ]
        assert len(fresh) >= 3, f"{family}: only {fresh}"


def test_a_client_refusing_the_servers_certificate_names_no_cause_of_yours() -> None:
    lines = [
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
        "failed: unable to get local issuer certificate (_ssl.c:1006)",
        "curl: (60) SSL certificate problem: unable to get local issuer certificate",
        "x509: certificate signed by unknown authority",
        "* TLSv1.3 (OUT), TLS alert, unknown CA (560):",
    ]
    for line in lines:
        [match] = explain(line).matches
        assert (match.scope, match.causes) == ("server_certificate", ()), line
    # The same words in a server's log are about the client's certificate.
    server = explain(
        "http: TLS handshake error from 10.0.0.5:41234: tls: failed to verify certificate: "
        "x509: certificate signed by unknown authority"
    )
    assert server.matches[0].scope == "client_certificate"
    assert server.matches[0].causes
