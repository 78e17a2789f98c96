"""Offline acceptance, step 4: a valid CRL from the issuer of every certificate checked.

With CRL checking on, a missing (error 3), not yet valid (11) or expired
(12) CRL rejects as surely as a revocation (23). OpenSSL checks revocation
even on a chain it could not complete (the errors before were let through by
the server's callback): the top certificate then needs a CRL from an issuer
that is not there.
"""

from __future__ import annotations

from mtls_doctor.causes import Cause
from mtls_doctor.graph import Node
from mtls_doctor.rules.verify_policy import Walk
from mtls_doctor.serverconf.facts import CrlCheck
from mtls_doctor.x509errors import X509Error


def check_crls(walk: Walk) -> None:
    """Every (certificate, issuer) pair of the chain, as the block's CRL setting asks."""
    block = walk.block
    if block.crl_check is CrlCheck.NONE:
        return
    chain = walk.chain
    # (certificate or None for the hypothetical leaf, its issuer or None, chain index)
    checked: list[tuple[Node | None, Node | None, int]] = []
    if walk.offset:
        checked.append((None, chain[0], -1))
    checked += [(chain[i], chain[i + 1], i) for i in range(len(chain) - 1)]
    if not walk.anchored:
        top = chain[-1]
        checked.append((top, top if walk.graph.self_signed(top.fp) else None, len(chain) - 1))
    if block.crl_check is CrlCheck.LEAF:
        checked = checked[:1]
    for cert, issuer, index in checked:
        _check_one(walk, cert, issuer, index)


def _check_one(walk: Walk, cert: Node | None, issuer: Node | None, index: int) -> None:
    block = walk.block
    crls = walk.graph.crls
    about = (
        "the client certificate"
        if index + walk.offset == 0
        else cert.cert.subject
        if cert is not None
        else "certificates"
    )
    if issuer is None:
        assert cert is not None
        named = [c for c in crls if c.issuer == cert.cert.issuer]
        if not block.crl_missing_ok or named:
            walk.error(
                X509Error.UNABLE_TO_GET_CRL_ISSUER if named else X509Error.UNABLE_TO_GET_CRL,
                index,
                Cause.REJECTED_UNEXPLAINED,
                f"The CRL of {cert.cert.issuer} cannot be checked for {about}: "
                "that CA's certificate is not available.",
            )
        return
    name = issuer.cert.subject
    signed = [c for c in crls if c.issuer == name and issuer.fp in c.signed_by]
    if not signed:
        if not block.crl_missing_ok:
            walk.error(
                X509Error.UNABLE_TO_GET_CRL,
                index,
                Cause.REJECTED_UNEXPLAINED,
                f"CRL checking is on and the server has no CRL from {name} to check "
                f"{about} (unable to get certificate CRL).",
                f"Add the CRL of {name} to the block's CRL file and reload.",
            )
        return
    crl = max(signed, key=lambda c: c.this_update or walk.now)
    if crl.next_update is not None and walk.now > crl.next_update:
        walk.error(
            X509Error.CRL_HAS_EXPIRED,
            index,
            Cause.REJECTED_UNEXPLAINED,
            f"The server's CRL from {name} expired on {crl.next_update:%Y-%m-%d %H:%M} "
            "UTC (CRL has expired): it rejects every certificate that CA issued.",
            f"Install a fresh CRL from {name} and reload the server.",
        )
    elif crl.this_update is not None and walk.now < crl.this_update:
        walk.error(
            X509Error.CRL_NOT_YET_VALID,
            index,
            Cause.REJECTED_UNEXPLAINED,
            f"The server's CRL from {name} is valid only from "
            f"{crl.this_update:%Y-%m-%d %H:%M} UTC (CRL is not yet valid).",
        )
    if cert is not None and cert.cert.serial in crl.revoked:
        walk.error(
            X509Error.CERT_REVOKED,
            index,
            Cause.CERTIFICATE_REVOKED,
            f"The CRL from {name} lists {about} as revoked.",
        )
