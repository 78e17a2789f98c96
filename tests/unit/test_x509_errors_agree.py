"""X.509 verify errors have one home (``x509errors.X509Error``); explain's knowledge agrees.

lint-server's acceptance and HAProxy ``crt-ignore-err`` parsing read the
enum; ``knowledge/x509_verify.toml`` explains pasted server logs. The same
number must carry the same words in both (OpenSSL 3.0's, older wordings
being the knowledge's ``other_texts``).
"""

from __future__ import annotations

from mtls_doctor.knowledge import load_knowledge
from mtls_doctor.x509errors import X509Error


def test_every_error_has_the_knowledges_words() -> None:
    known = {entry.code: entry for entry in load_knowledge().verify_errors}
    for error in X509Error:
        entry = known.get(error.value)
        assert entry is not None, error
        assert error.text == entry.text, (error, entry.text)


def test_openssl_3_numbers() -> None:
    # OpenSSL 3.0 moved INVALID_CA from 24 to 79 (24 is NO_ISSUER_PUBLIC_KEY there).
    assert X509Error.INVALID_CA == 79
    assert X509Error.parse("X509_V_ERR_INVALID_CA") is X509Error.INVALID_CA
