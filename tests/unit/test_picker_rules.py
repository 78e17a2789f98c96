"""The browser-picker rules with hand-built identities and a fixed ``now``."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from mtls_doctor.rules.picker import (
    Reason,
    autoselect_policy,
    best_candidate,
    browser_picker,
    name_attribute,
    next_steps,
    origin_pattern,
    picker_reasons,
)
from tests.factories import ISSUING, NOW, ROOT, ca, cert, identity

ROOTS = (ROOT,)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, ()),
        ({"has_private_key": False, "key_matches": None}, (Reason.NO_PRIVATE_KEY,)),
        ({"key_matches": False}, (Reason.NO_PRIVATE_KEY,)),
        ({"certificate": cert(not_after=NOW - timedelta(days=1))}, (Reason.EXPIRED,)),
        ({"certificate": cert(not_before=NOW + timedelta(days=2))}, (Reason.NOT_YET_VALID,)),
        (
            {"certificate": cert(extended_key_usage=("serverAuth",))},
            (Reason.NO_CLIENT_AUTH_USAGE,),
        ),
        (
            {"certificate": cert(key_usage=("key_encipherment",))},
            (Reason.NO_CLIENT_AUTH_USAGE,),
        ),
        # The intermediate is not in the store: the chain stops at the leaf.
        (
            {"chain": (), "path_length": 0},
            (Reason.ISSUER_NOT_ACCEPTED, Reason.INTERMEDIATE_NOT_IN_STORE),
        ),
        # A chain that ends at a root the server does not list.
        (
            {"chain": (ca(ISSUING, "CN=Other Root"), ca("CN=Other Root")), "path_length": 2},
            (Reason.ISSUER_NOT_ACCEPTED,),
        ),
    ],
)
def test_reasons(overrides: dict[str, object], expected: tuple[Reason, ...]) -> None:
    reasons, _ = picker_reasons(identity(**overrides), ROOTS, NOW)  # type: ignore[arg-type]
    assert reasons == expected


def test_several_reasons_are_all_listed() -> None:
    item = identity(
        certificate=cert(not_after=NOW - timedelta(days=1), extended_key_usage=("serverAuth",)),
        has_private_key=False,
        key_matches=None,
    )
    reasons, _ = picker_reasons(item, ROOTS, NOW)
    assert reasons == (Reason.NO_PRIVATE_KEY, Reason.EXPIRED, Reason.NO_CLIENT_AUTH_USAGE)


def test_leaf_issued_directly_by_a_listed_ca_is_offered() -> None:
    reasons, name = picker_reasons(identity(chain=(), path_length=0), (ISSUING,), NOW)
    assert reasons == ()
    assert name == ISSUING


def test_no_listed_names_means_no_issuer_filter() -> None:
    view = browser_picker([identity(chain=(), path_length=0)], (), NOW)
    assert len(view.offered) == 1
    assert view.offered[0].accepted_name is None


def test_revoked_rotated_and_weak_keys_are_still_offered() -> None:
    weak = identity(certificate=cert(key_type="RSA", key_bits=1024, curve=None))
    assert browser_picker([weak], ROOTS, NOW).chosen is not None


def test_order_is_chromiums_later_expiry_then_later_start_then_shorter_chain() -> None:
    short_lived = identity(source="a", certificate=cert(not_after=NOW + timedelta(days=30)))
    long_lived = identity(source="b", certificate=cert(not_after=NOW + timedelta(days=300)))
    newer = identity(
        source="c",
        certificate=cert(not_after=NOW + timedelta(days=300), not_before=NOW - timedelta(days=1)),
    )
    longer_chain = replace(newer, source="d", chain=(*newer.chain, ca(ROOT)), path_length=2)
    view = browser_picker([short_lived, longer_chain, long_lived, newer], ROOTS, NOW)
    assert [c.identity.source for c in view.offered] == ["c", "d", "b", "a"]
    assert view.chosen is not None and view.chosen.identity.source == "c"


def test_best_candidate_when_nothing_is_offered_prefers_one_with_a_key() -> None:
    keyless = identity(source="keyless", has_private_key=False, key_matches=None)
    expired = identity(source="expired", certificate=cert(not_after=NOW - timedelta(days=1)))
    view = browser_picker([keyless, expired], ROOTS, NOW)
    assert view.offered == ()
    best = best_candidate(view)
    assert best is not None and best.identity.source == "expired"


def test_name_attribute_unescapes() -> None:
    assert name_attribute(r"CN=Smith\, John,O=Acme", "CN") == "Smith, John"
    assert name_attribute("O=Acme", "CN") is None


def test_autoselect_policy_is_a_list_of_json_strings() -> None:
    policy = autoselect_policy(origin_pattern("example.org", 443), cert())
    (rule,) = policy["AutoSelectCertificateForUrls"]
    assert json.loads(rule) == {
        "pattern": "https://example.org",
        "filter": {"SUBJECT": {"CN": "alice"}, "ISSUER": {"CN": "Issuing CA"}},
    }
    assert origin_pattern("::1", 8443) == "https://[::1]:8443"


def test_next_steps_when_nothing_is_offered_name_the_fix() -> None:
    item = identity(source="nss:/home/u/.pki/nssdb#alice", chain=(), path_length=0)
    steps = next_steps(browser_picker([item], ROOTS, NOW), True, "example.org:443")
    text = " ".join(steps)
    assert "No certificate-selection prompt appears" in text
    assert "certutil -A -d sql:/home/u/.pki/nssdb" in text
    assert ROOT in text


def test_next_steps_when_offered_point_to_check_with_the_same_store() -> None:
    item = identity(source="nss:/home/u/.pki/nssdb#alice")
    (step,) = next_steps(browser_picker([item], ROOTS, NOW), True, "example.org:443")
    assert "`mtls-doctor check example.org:443 --store nss:/home/u/.pki/nssdb`" in step


def test_next_steps_when_the_server_does_not_ask() -> None:
    (step,) = next_steps(browser_picker([identity()], (), NOW), False)
    assert "does not ask for a client certificate" in step
