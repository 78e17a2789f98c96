"""The identity rules, table-driven, every finding both ways."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.model import IdentityFacts, Severity
from mtls_doctor.rules.identity import allows_client_auth, check_identity, days_left
from tests.factories import ISSUING, NOW, ROOT, ca, cert, identity


def codes(facts: IdentityFacts, warn_days: int = 30) -> set[str]:
    return {f.code for f in check_identity(facts, NOW, warn_days)}


#: Leaf, intermediate and root: nothing at all to say.
HEALTHY = identity(chain=(ca(ISSUING, ROOT), ca(ROOT)), path_length=2)

CASES = [
    ("certificate_expired", identity(certificate=cert(not_after=NOW - timedelta(seconds=1)))),
    ("certificate_not_yet_valid", identity(certificate=cert(not_before=NOW + timedelta(hours=1)))),
    ("expiring_soon", identity(certificate=cert(not_after=NOW + timedelta(days=5)))),
    ("private_key_missing", identity(has_private_key=False, key_matches=None)),
    ("private_key_mismatch", identity(key_matches=False)),
    ("eku_lacks_client_auth", identity(certificate=cert(extended_key_usage=("serverAuth",)))),
    ("ku_lacks_digital_signature", identity(certificate=cert(key_usage=("key_encipherment",)))),
    ("ca_certificate_as_leaf", identity(certificate=cert(is_ca=True))),
    ("weak_key", identity(certificate=cert(key_type="RSA", key_bits=1024, curve=None))),
    ("weak_signature", identity(certificate=cert(signature_hash="sha1"))),
    ("chain_incomplete", identity(chain=(), path_length=0)),
    ("chain_out_of_order", identity(bundle_in_order=False)),
    (
        "chain_unrelated_certificate",
        identity(chain=(ca(ISSUING, ROOT), ca("CN=Other CA")), path_length=1),
    ),
    (
        "chain_certificate_expired",
        identity(chain=(ca(ISSUING, ROOT, not_after=NOW - timedelta(days=1)),)),
    ),
]


def test_bundle_without_root_gets_only_an_informational_chain_note() -> None:
    facts = identity()
    assert codes(facts) == {"chain_incomplete"}
    assert all(f.severity is Severity.INFO for f in check_identity(facts, NOW))


def test_full_chain_to_a_self_signed_root_is_complete() -> None:
    assert codes(HEALTHY) == set()


@pytest.mark.parametrize(("code", "facts"), CASES, ids=[c for c, _ in CASES])
def test_each_finding_appears_when_its_fact_is_present(code: str, facts: IdentityFacts) -> None:
    assert code in codes(facts)
    assert code not in codes(HEALTHY)


def test_expiring_soon_follows_warn_days() -> None:
    facts = identity(certificate=cert(not_after=NOW + timedelta(days=40)))
    assert "expiring_soon" not in codes(facts, warn_days=30)
    assert "expiring_soon" in codes(facts, warn_days=45)


def test_blocking_findings_name_their_cause() -> None:
    by_code = {f.code: f.cause for _, facts in CASES for f in check_identity(facts, NOW)}
    assert by_code["certificate_expired"] is Cause.CERTIFICATE_EXPIRED
    assert by_code["private_key_mismatch"] is Cause.PRIVATE_KEY_MISMATCH
    assert by_code["eku_lacks_client_auth"] is Cause.WRONG_KEY_USAGE
    assert by_code["weak_key"] is Cause.UNSUPPORTED_KEY
    assert by_code["expiring_soon"] is None


def test_absent_eku_allows_client_auth_but_server_only_eku_does_not() -> None:
    assert allows_client_auth(cert(extended_key_usage=None))
    assert allows_client_auth(cert(extended_key_usage=("anyExtendedKeyUsage",)))
    assert not allows_client_auth(cert(extended_key_usage=("serverAuth",)))
    assert not allows_client_auth(cert(key_usage=("key_encipherment",)))


def test_days_left_is_negative_once_expired() -> None:
    assert days_left(cert(not_after=NOW + timedelta(days=3, hours=1)), NOW) == 3
    assert days_left(cert(not_after=NOW - timedelta(hours=1)), NOW) == -1


def test_expired_message_names_the_date() -> None:
    facts = identity(certificate=cert(not_after=NOW - timedelta(days=3)))
    message = next(f.message for f in check_identity(facts, NOW) if f.code == "certificate_expired")
    assert "2026-05-29" in message and "3 days ago" in message


def test_a_ca_certificate_as_leaf_is_a_warning_that_blocks_nothing() -> None:
    """OpenSSL-based servers accept a CA:TRUE leaf: it must never be the verdict's cause."""
    found = check_identity(identity(certificate=cert(is_ca=True)), NOW)
    note = next(f for f in found if f.code == "ca_certificate_as_leaf")
    assert (note.severity, note.cause) == (Severity.WARNING, None)
