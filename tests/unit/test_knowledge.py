"""The knowledge base as data: every file loads, every entry is complete and
selects its own examples, and the matcher's rules (derivation, sides,
grouping, honesty about unknown text) hold."""

from __future__ import annotations

import ctypes
import ctypes.util
import re

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.knowledge import KnowledgeError, explain, load_knowledge
from mtls_doctor.knowledge.matcher import (
    Entry,
    _entry,
    best_entry,
    find_alert,
    lower_pattern,
    needles,
)
from mtls_doctor.knowledge.vocabulary import Scope

KB = load_knowledge()
ENTRIES = {e.id: e for e in KB.entries}
EXAMPLES = [(e.id, line) for e in KB.entries for line in e.examples]


def test_there_is_a_real_knowledge_base() -> None:
    assert len(KB.entries) >= 100
    sources = {e.source for e in KB.entries}
    for family in ("chrome", "firefox", "curl", "openssl", "python", "java", "go", "dotnet",
                   "node", "nginx", "apache", "haproxy", "envoy"):  # fmt: skip
        assert family in sources


@pytest.mark.parametrize("entry_id", sorted(ENTRIES))
def test_every_entry_is_complete(entry_id: str) -> None:
    entry = ENTRIES[entry_id]
    for name in ("source", "program", "layer", "pattern", "said", "meaning", "next_step",
                 "reference"):  # fmt: skip
        assert getattr(entry, name).strip(), name
    assert entry.causes is not None or entry.derive or entry.alert is not None
    assert all(isinstance(c, Cause) for c in entry.causes or ())
    assert entry.examples, "every entry needs an example line"
    re.compile(entry.pattern, re.IGNORECASE)
    re.compile(lower_pattern(entry.pattern))
    assert needles(entry.pattern), "a pattern should start with literal text (fast prefilter)"


@pytest.mark.parametrize(("entry_id", "line"), EXAMPLES)
def test_every_example_selects_its_entry_and_no_other(entry_id: str, line: str) -> None:
    assert any(word in line.lower() for word in KB.triggers), "no trigger word"
    hit = best_entry(KB, line)
    assert hit is not None and hit[0].id == entry_id
    # No other entry of the same priority also matches: the order of files
    # never decides what a line means.
    low = line.lower()
    rivals = [
        e.id for e in KB.entries
        if e.priority == hit[0].priority and e.id != entry_id and KB.regex(e).search(low)
    ]  # fmt: skip
    assert rivals == []
    # The needle prefilter never hides a match.
    unfiltered = best_entry(KB, line, use_needles=False)
    assert unfiltered is not None and unfiltered[0].id == entry_id
    result = explain(line)
    [match] = result.matches
    if ENTRIES[entry_id].derive == "alert":
        assert match.alert is not None, "the alert must be recognised"


def test_alert_table_covers_the_client_certificate_alerts() -> None:
    for code in (40, 42, 43, 44, 45, 46, 48, 49, 51, 116):
        assert code in KB.alerts
    names = [a.name for a in KB.alerts.values()]
    assert len(names) == len(set(names))
    assert KB.alerts[48].name == "unknown_ca"
    assert Cause.NO_CERTIFICATE_SENT == KB.alerts[116].causes[0]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("sslv3 alert bad certificate", 42),
        ("ssl/tls alert certificate expired", 45),
        ("tlsv13 alert certificate required", 116),
        ("SSL alert number 49", 49),
        ("error:0A000414:SSL routines::", 44),
        ("error:14094418:SSL routines:ssl3_read_bytes:", 48),
        ("remote error: tls: unknown certificate authority", 48),
        ("remote error: tls: unknown certificate", 46),
        ("remote error: tls: bad certificate status response", 113),
        ("sent a TLS alert: 'UnsupportedCert'.", 43),
        ("sent a TLS alert: '116'.", 116),
        ("Received fatal alert: decrypt_error", 51),
    ],
)
def test_alerts_are_found_in_every_spelling(text: str, code: int) -> None:
    alert = find_alert(KB, text)
    assert alert is not None and alert.code == code


def test_verify_texts_are_openssls_own() -> None:
    """The X.509 error texts are those of the OpenSSL on this machine (3.x wording)."""
    name = ctypes.util.find_library("crypto")
    if name is None:
        pytest.skip("no libcrypto")
    lib = ctypes.CDLL(name)
    text_of = lib.X509_verify_cert_error_string
    text_of.restype = ctypes.c_char_p
    text_of.argtypes = [ctypes.c_long]
    for error in KB.verify_errors:
        assert text_of(error.code).decode() == error.text, error.code


def test_bad_data_is_refused() -> None:
    good = {
        "id": "t.x", "source": "t", "program": "t", "layer": "t", "pattern": "x",
        "said": "s", "meaning": "m", "causes": ["untrusted_issuer"], "next_step": "n",
        "reference": "r",
    }  # fmt: skip
    assert isinstance(_entry(good, "t.toml"), Entry)
    with pytest.raises(KnowledgeError, match="not_a_cause"):
        _entry({**good, "causes": ["not_a_cause"]}, "t.toml")
    with pytest.raises(KnowledgeError, match="next_step"):
        _entry({**good, "next_step": ""}, "t.toml")
    with pytest.raises(KnowledgeError, match="scope is 'somewhere', not one of 'client_cert"):
        _entry({**good, "scope": "somewhere"}, "t.toml")
    for key, value in (("derive", "guess"), ("unknown_writer", "both")):
        with pytest.raises(KnowledgeError, match=f"{key} is '{value}'"):
            _entry({**good, key: value}, "t.toml")
    with pytest.raises(KnowledgeError, match="if_server_wrote names a certificate"):
        _entry({**good, "scope": "either", "if_server_wrote": "protocol"}, "t.toml")
    assert _entry(good, "t.toml").scope is Scope.CLIENT_CERTIFICATE
    with pytest.raises(KnowledgeError, match="unknown field"):
        _entry({**good, "cuases": []}, "t.toml")
    without = {k: v for k, v in good.items() if k != "causes"}
    with pytest.raises(KnowledgeError, match="needs"):
        _entry(without, "t.toml")


def test_unknown_text_is_said_to_be_unknown() -> None:
    result = explain("The printer on floor 3 is out of toner.\nSSL is great\n")
    assert not result.known
    assert result.matches == ()
    assert result.likely_causes == ()


def test_repeats_are_grouped_with_their_lines() -> None:
    line = (
        "2026/06/01 12:00:0{n} [info] 7#7: *{n} client SSL certificate verify error: "
        "(10:certificate has expired) while reading client request headers, client: 10.0.0.{n}"
    )
    other = "client SSL certificate verify error: (23:certificate revoked) while reading"
    text = "\n".join([line.format(n=1), "noise", line.format(n=2), other, line.format(n=3)])
    result = explain(text)
    assert [(m.entry.id, m.count, m.lines) for m in result.matches] == [
        ("nginx.client_verify_error", 3, (1, 3, 5)),
        ("nginx.client_verify_error", 1, (4,)),
    ]
    assert result.matches[0].verify_error is not None
    assert result.matches[0].verify_error.code == 10
    # Expired and revoked: no cause in common, so the union, most named first.
    assert set(result.likely_causes) == {Cause.CERTIFICATE_EXPIRED, Cause.CERTIFICATE_REVOKED}


def test_evidence_from_both_sides_narrows_the_causes() -> None:
    text = (
        "curl: (56) OpenSSL SSL_read: error:0A000418:SSL routines::tlsv1 alert unknown ca\n"
        "2026/06/01 [info] 1#1: *2 client SSL certificate verify error: "
        "(21:unable to verify the first certificate) while reading client request headers\n"
    )
    result = explain(text)
    assert result.likely_causes == (
        Cause.MISSING_INTERMEDIATE,
        Cause.UNTRUSTED_ISSUER,
        Cause.ISSUER_ROTATED,
    )


@pytest.mark.parametrize(
    ("line", "scope", "causes"),
    [
        (
            "http: TLS handshake error from 10.0.0.5:1: tls: failed to verify certificate: "
            "x509: certificate signed by unknown authority",
            "client_certificate",
            (Cause.UNTRUSTED_ISSUER, Cause.MISSING_INTERMEDIATE, Cause.ISSUER_ROTATED),
        ),
        (
            'Get "https://api.example.com/": tls: failed to verify certificate: '
            "x509: certificate signed by unknown authority",
            "server_certificate",
            (),
        ),
        # Nothing says who wrote it: taken as a client's, about the server's certificate.
        ("x509: certificate signed by unknown authority", "server_certificate", ()),
    ],
)  # fmt: skip
def test_the_side_that_wrote_a_line_decides_whose_certificate_it_is(
    line: str, scope: str, causes: tuple[Cause, ...]
) -> None:
    [match] = explain(line).matches
    assert match.scope == scope
    assert match.causes == causes


def test_an_alert_in_a_servers_log_is_about_the_server_certificate() -> None:
    line = (
        "[info] 9#9: *3 SSL_do_handshake() failed (SSL: error:0A000412:SSL routines::"
        "sslv3 alert bad certificate:SSL alert number 42) while SSL handshaking, client: 1.2.3.4"
    )
    [match] = explain(line).matches
    assert match.scope == "server_certificate"
    assert match.causes == ()
    assert match.alert is not None and match.alert.code == 42
    assert "client sent TLS alert 42 bad_certificate" in match.said


def test_the_target_named_in_the_text_goes_into_the_next_step() -> None:
    text = "$ curl --cert me.pem https://api.example.com/v1\ncurl: (56) ... tlsv1 alert unknown ca"
    result = explain(text)
    assert result.url == "https://api.example.com/v1"
    assert "mtls-doctor check https://api.example.com/v1" in result.matches[0].next_step
    nginx = explain('client sent no required SSL certificate, host: "app.example.com"')
    assert "https://app.example.com" in nginx.matches[0].next_step
    bare = explain("ERR_BAD_SSL_CLIENT_AUTH_CERT")
    assert "https://HOST[:PORT]" in bare.matches[0].next_step


def test_a_large_log_is_read_whole() -> None:
    lines = []
    for n in range(10_000):
        if n % 100 == 0:
            lines.append(f"[info] 1#1: *{n} client sent no required SSL certificate while reading")
        else:
            lines.append(f'10.0.0.1 - - "GET /items/{n} HTTP/1.1" 200 {n} "-" "curl/8" ssl=on')
    result = explain("\n".join(lines) + "\n" + "x" * 100_000)
    [match] = result.matches
    assert match.count == 100
    assert result.lines_read == 10_001
