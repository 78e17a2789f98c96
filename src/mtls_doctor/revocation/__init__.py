"""Adapter: is the client certificate, or an intermediate above it, revoked?

The client side must find out by itself: nginx never tells a client that its
certificate was revoked (it answers 400 "The SSL certificate error"), and other
servers say so only when their own CRL is current. So ``check`` asks the CA:

1. ``--crl FILE`` first, when given (local, no network);
2. OCSP (RFC 6960) at the certificate's AIA OCSP URL, or ``--ocsp-url`` for
   the leaf: POST, then GET (RFC 6960 A.1) if the responder refuses the POST;
3. the CRL (RFC 5280) at its CRL distribution points.

An answer counts only when it is verified, and a certificate is never called
good on anything less: ``ocsp.py`` (RFC 6960) and ``crl.py`` (RFC 5280 6.3.3)
say what verified means.

A verified revocation stays a revocation when the answer is past its
nextUpdate (revocation is permanent, RFC 5280 3.3), except certificateHold.

Every download goes through :func:`mtls_doctor.fetch.fetch`: http and https
only (also after redirects), a size cap read in chunks (CRLs can be large:
10 MiB), the caller's timeout. ``offline`` makes no request at all. CRLs are
cached on disk (``$XDG_CACHE_HOME/mtls-doctor/crl/``), keyed by a hash of the
URL and reused until their nextUpdate, so a fleet of checks fetches each CRL
once. The download code is imported on the first download only.

The package, by job: ``lookup`` (the entry point: sources, order, deadline,
downloads), ``crl`` and ``ocsp`` (is this answer to be believed, and what
does it say), ``answer`` (their shared verdict types and wording), ``cache``
(CRLs on disk). Importing the package costs what the single module did:
``cryptography``, not the HTTP code.
"""

from __future__ import annotations

from mtls_doctor.revocation.answer import UntrustedAnswer, VerifiedAnswer
from mtls_doctor.revocation.cache import CrlCache, default_cache_dir
from mtls_doctor.revocation.crl import CRL_MAX_BYTES, crl_status, load_crl_files
from mtls_doctor.revocation.lookup import check_revocation
from mtls_doctor.revocation.ocsp import OCSP_MAX_BYTES, ocsp_status

__all__ = [
    "CRL_MAX_BYTES",
    "OCSP_MAX_BYTES",
    "CrlCache",
    "UntrustedAnswer",
    "VerifiedAnswer",
    "check_revocation",
    "crl_status",
    "default_cache_dir",
    "load_crl_files",
    "ocsp_status",
]
