"""What error messages about client certificates mean: the knowledge behind ``explain``.

The knowledge is data: one TOML file per family of programs (browsers,
curl, OpenSSL, Python, runtimes, servers), a table of TLS alerts and a
table of X.509 verification errors, each entry citing where its wording
comes from. :func:`explain` turns any text (a line, a terminal paste, a
whole log) into the messages it recognises, each with who said it, the
likely cause codes, what it cannot tell apart, and the next step.

>>> from mtls_doctor.knowledge import explain
>>> result = explain("curl: (56) OpenSSL SSL_read: error:0A000415:SSL routines::"
...                  "sslv3 alert certificate expired, errno 0")
>>> [str(c) for c in result.matches[0].causes]
['certificate_expired', 'rejected_unexplained']

This package never imports ``cryptography``.
"""

from __future__ import annotations

from mtls_doctor.knowledge.explaining import Explainer, Explanation, Match, explain
from mtls_doctor.knowledge.matcher import (
    Alert,
    Entry,
    KnowledgeError,
    VerifyError,
    load_knowledge,
)

__all__ = [
    "Alert",
    "Entry",
    "Explainer",
    "Explanation",
    "KnowledgeError",
    "Match",
    "VerifyError",
    "explain",
    "load_knowledge",
]
