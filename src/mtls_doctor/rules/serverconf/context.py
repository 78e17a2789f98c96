"""What every block rule needs: the block, its material, and chains over the verified graph."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mtls_doctor.model import CertFacts
from mtls_doctor.rules.serverconf.table import (
    DEFAULT_VERIFY_DEPTH,
)
from mtls_doctor.rules.walk import TRUSTED_FIRST, walk
from mtls_doctor.serverconf.facts import (
    BlockMaterial,
    FileRole,
    ServerKind,
    TLSServerBlock,
    VerifyMode,
    Where,
)

# --------------------------------------------------------------------------- chains


def issues(material: BlockMaterial, issuer: CertFacts, cert: CertFacts) -> bool:
    """``issuer``'s key signed ``cert`` (checked once by the loader, in the block's graph)."""
    graph = material.graph
    return (
        graph is not None
        and issuer.fingerprint_sha256 != cert.fingerprint_sha256
        and (issuer.fingerprint_sha256, cert.fingerprint_sha256) in graph.signed
    )


def chain_up(cert: CertFacts, material: BlockMaterial) -> tuple[CertFacts, ...]:
    """``cert`` and its issuers among the block's trusted certificates, up to a root or a gap."""
    graph = material.graph
    if graph is None or cert.fingerprint_sha256 not in graph.nodes:
        return (cert,)
    return tuple(n.cert for n in walk(graph, cert.fingerprint_sha256, prefer=TRUSTED_FIRST).nodes)


#: Servers whose depth setting counts the root (Apache; lighttpd's own ``depth > limit``).
ROOT_COUNTED = frozenset({ServerKind.APACHE, ServerKind.LIGHTTPD})


def allowed_intermediates(kind: ServerKind, depth: int | None) -> int:
    """How many intermediate CAs a client chain may have under this depth setting."""
    value = DEFAULT_VERIFY_DEPTH[kind] if depth is None else depth
    return value - 1 if kind in ROOT_COUNTED else value


def depth_needed(kind: ServerKind, intermediates: int) -> int:
    """The smallest depth setting that accepts ``intermediates`` intermediate CAs."""
    return intermediates + 1 if kind in ROOT_COUNTED else intermediates


def advertised_names(block: TLSServerBlock, material: BlockMaterial) -> tuple[str, ...]:
    """The CA names the server sends in its CertificateRequest, in order, deduplicated."""
    if block.verify is VerifyMode.NONE or block.no_ca_names_at is not None:
        return ()
    roles: tuple[FileRole, ...] = (FileRole.CLIENT_CA, FileRole.CA_PATH)
    if block.kind in (ServerKind.APACHE, ServerKind.LIGHTTPD) and block.files_with(
        FileRole.CA_NAMES, FileRole.CA_NAMES_PATH
    ):
        roles = (FileRole.CA_NAMES, FileRole.CA_NAMES_PATH)
    names: list[str] = []
    for item in material.of(*roles):
        names.extend(c.subject for c in item.certificates if c.subject not in names)
    return tuple(names)


# --------------------------------------------------------------------------- the rules


@dataclass(frozen=True, slots=True)
class Context:
    """What every rule needs beside the block."""

    block: TLSServerBlock
    material: BlockMaterial
    now: datetime
    warn_days: int
    crl_warn: timedelta

    @property
    def first_ca_where(self) -> Where:
        """The first CA directive, else the verify directive, else the block."""
        trusted = [f for f in self.block.files if f.role.trusted]
        if trusted:
            return trusted[0].where
        return self.block.verify_at or self.block.where

    def where_of(self, cert: CertFacts) -> Where:
        """The directive of the first trusted file that holds ``cert``."""
        for item in self.material.files:
            if item.config.role.trusted and cert in item.certificates:
                return item.config.where
        return self.first_ca_where
