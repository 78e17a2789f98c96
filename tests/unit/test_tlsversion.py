"""The TLS version vocabulary: OpenSSL's names, --tls numbers, and what is refused."""

from __future__ import annotations

import pytest

from mtls_doctor.tlsversion import SELECTABLE, TLSVersion, selectable


def test_openssl_names_map_to_versions_and_unknown_to_none() -> None:
    assert TLSVersion.named("TLSv1.3") is TLSVersion.TLS1_3
    assert TLSVersion.named("TLSv1") is TLSVersion.TLS1_0
    assert TLSVersion.named("Unknown") is None and TLSVersion.named(None) is None
    assert f"{TLSVersion.TLS1_2}" == "TLSv1.2"  # what text and JSON show


@pytest.mark.parametrize("version", SELECTABLE)
def test_the_numbers_tls_takes_round_trip(version: TLSVersion) -> None:
    assert selectable(version.number) is version
    assert selectable(version.value) is version


def test_an_old_version_cannot_be_pinned_and_the_error_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"1\.2, 1\.3"):
        selectable("1.1")
    assert TLSVersion.TLS1_0.number == "1.0"
