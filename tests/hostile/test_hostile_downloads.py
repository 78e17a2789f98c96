"""CRL, OCSP and caIssuers URLs that drip, stay silent or answer garbage.

Each lookup must end within the run's deadline and be recorded as a fact
("unknown" with the reason), never hang and never become an internal error.
The lookups run in a daemon thread with a generous join as the safety net: a
regression fails the test instead of hanging the suite. No durations are
asserted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from mtls_doctor.errors import FetchError
from mtls_doctor.fetch import fetch
from mtls_doctor.lab.pki import LabPKI
from mtls_doctor.revocation import check_revocation
from tests.conftest import LAB_NOW
from tests.hostile.pki import client_cert
from tests.servers.hostile import hostile_http

T = TypeVar("T")
SAFETY_NET = 30.0  # seconds; the runs below take about their --timeout


def finishes(call: Callable[[], T]) -> T:
    """``call()``, which must return (or raise) well before the safety net."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(SAFETY_NET)
    assert not thread.is_alive(), "the call did not end: the deadline was not enforced"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


@pytest.mark.parametrize("behaviour", ["drip", "silent"])
def test_fetch_ends_at_the_deadline(behaviour: str) -> None:
    with hostile_http(behaviour) as base:
        with pytest.raises(FetchError, match=r"no complete answer before the 1 s timeout ran out"):
            finishes(lambda: fetch(f"{base}/x.crl", timeout=1.0))


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [
        ("bad_status", "the status line is not HTTP"),
        ("bad_chunking", "chunked encoding is broken"),
        ("many_headers", "not valid HTTP"),
        ("long_status", "too long"),
    ],
)
def test_fetch_garbage_is_a_fetch_error(behaviour: str, words: str) -> None:
    with hostile_http(behaviour) as base:
        with pytest.raises(FetchError) as caught:
            finishes(lambda: fetch(f"{base}/x.crl", timeout=5.0))
    assert "the server answered garbage" in caught.value.reason
    assert words in caught.value.reason


@pytest.mark.parametrize("behaviour", ["drip", "silent"])
def test_twenty_urls_on_a_hanging_host_end_at_one_deadline(behaviour: str, lab: LabPKI) -> None:
    with hostile_http(behaviour) as base:
        leaf, _key = client_cert(
            lab.intermediate,
            now=LAB_NOW,
            ocsp=[f"{base}/ocsp/{i}" for i in range(10)],
            crl=[f"{base}/crl/{i}.crl" for i in range(10)],
        )
        facts = finishes(
            lambda: check_revocation(
                leaf, [lab.intermediate.certificate], timeout=1.5, use_cache=False, now=LAB_NOW
            )
        )
    (leaf_facts,) = facts[:1]
    assert leaf_facts.status == "unknown"
    assert "before the 1.5 s timeout ran out" in leaf_facts.detail


@pytest.mark.parametrize("behaviour", ["bad_status", "bad_chunking", "many_headers", "long_status"])
def test_garbage_from_the_responder_is_revocation_unknown(behaviour: str, lab: LabPKI) -> None:
    with hostile_http(behaviour) as base:
        leaf, _key = client_cert(
            lab.intermediate, now=LAB_NOW, ocsp=[f"{base}/ocsp"], crl=[f"{base}/x.crl"]
        )
        facts = finishes(
            lambda: check_revocation(
                leaf, [lab.intermediate.certificate], timeout=5, use_cache=False, now=LAB_NOW
            )
        )
    assert facts[0].status == "unknown"
    assert facts[0].detail.count("the responder answered garbage") == 2  # OCSP and CRL
