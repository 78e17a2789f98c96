"""The cause catalogue covers exactly the contract's codes."""

from __future__ import annotations

import re
from pathlib import Path

from mtls_doctor.causes import CATALOGUE, Cause

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "CONTRACT.md"


def test_every_cause_has_an_entry_with_words() -> None:
    assert set(CATALOGUE) == set(Cause)
    for cause, info in CATALOGUE.items():
        assert info.title and info.explanation, cause
        if cause is not Cause.ACCEPTED:
            assert info.user_fixes or info.server_fixes, cause


def test_codes_match_the_contract_table() -> None:
    expected = {
        "accepted", "rejected_by_application", "client_auth_not_requested",
        "no_certificate_sent", "certificate_expired", "certificate_not_yet_valid",
        "certificate_revoked", "untrusted_issuer", "issuer_rotated", "missing_intermediate",
        "private_key_missing", "private_key_mismatch", "wrong_key_usage", "unsupported_key",
        "wrong_certificate_selected", "rejected_unexplained", "unreachable", "timeout", "not_tls",
    }  # fmt: skip
    assert {c.value for c in Cause} == expected
    if CONTRACT.exists():  # the shared contract sits beside the checkout
        table = set(re.findall(r"^\| `([a-z_]+)` \|", CONTRACT.read_text(), re.MULTILINE))
        assert table == expected
