"""Adapter: a block's loaded CA files and CRLs plus a certificate → the issuance graph → judgement.

The judgement itself is pure and lives in :mod:`mtls_doctor.rules.acceptance`;
here the live certificates become one verified graph per block (signature
checks shared across blocks).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509

from mtls_doctor.bundle import LoadedIdentity
from mtls_doctor.causes import Cause
from mtls_doctor.graph import Source
from mtls_doctor.graphbuild import GraphBuilder
from mtls_doctor.rules.acceptance import Judgement, judge
from mtls_doctor.rules.fixes import make_verdict
from mtls_doctor.rules.identity import check_identity
from mtls_doctor.rules.serverconf import advertised_names
from mtls_doctor.serverconf.facts import TLSServerBlock
from mtls_doctor.serverconf.material import LoadedBlock
from mtls_doctor.x509facts import is_issued_by


def _builder(loaded: LoadedBlock, checked: dict[tuple[str, str], bool]) -> GraphBuilder:
    builder = GraphBuilder(checked=checked)
    builder.add(loaded.trusted, Source.SERVER_CA)
    builder.add_crls(loaded.crls)
    return builder


def judge_identity(
    block: TLSServerBlock,
    loaded: LoadedBlock,
    identity: LoadedIdentity,
    now: datetime,
    *,
    candidates: Sequence[x509.Certificate] = (),
    checked: dict[tuple[str, str], bool] | None = None,
) -> Judgement:
    """Would ``block`` accept ``identity``'s certificate? (``candidates``: CA certificates
    known to the user or downloaded from caIssuers URLs, used only to tell a missing
    intermediate from an unknown CA.) The private key is not needed; one that does not
    match blocks first."""
    for item in check_identity(identity.facts, now):
        if item.cause is Cause.PRIVATE_KEY_MISMATCH:
            return Judgement(make_verdict(item.cause, item.message))
    builder = _builder(loaded, {} if checked is None else checked)
    (leaf,) = builder.add([identity.certificate], Source.SENT)
    builder.add(identity.chain, Source.SENT)
    builder.add(candidates, Source.CANDIDATE)
    return judge(
        block,
        builder.graph(),
        leaf,
        now=now,
        offset=0,
        subject=identity.facts.certificate.subject,
        advertised=advertised_names(block, loaded.material),
    )


def judge_issuing_ca(
    block: TLSServerBlock,
    loaded: LoadedBlock,
    issuing: Sequence[x509.Certificate],
    now: datetime,
    *,
    checked: dict[tuple[str, str], bool] | None = None,
) -> Judgement:
    """Would ``block`` accept certificates issued by ``issuing[0]``?

    The rest of ``issuing`` is its chain: intermediates are assumed to be sent
    by clients, roots must be trusted by the server.
    """
    builder = _builder(loaded, {} if checked is None else checked)
    (ca,) = builder.add(issuing[:1], Source.SENT)
    builder.add([c for c in issuing[1:] if not _self_signed(c)], Source.SENT)
    return judge(
        block,
        builder.graph(),
        ca,
        now=now,
        offset=1,
        subject=f"Certificates issued by {issuing[0].subject.rfc4514_string()}",
        advertised=advertised_names(block, loaded.material),
    )


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer and is_issued_by(cert, cert)
