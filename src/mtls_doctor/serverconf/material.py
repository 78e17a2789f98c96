"""Adapter: the CA, CA-name and CRL files a server block names → facts.

Reads each file once (blocks often share a bundle), the way the servers do:
PEM only (nginx, Apache and HAProxy load client-CA files and CRLs with
OpenSSL's PEM readers), every certificate and CRL in the file, directories
file by file. A CRL's signature is checked against the block's trusted CAs
here, because that needs the keys; the rules only see whether one verified.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC
from itertools import islice
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from mtls_doctor.errors import InputError
from mtls_doctor.files import FileFault, FileReadError, read_regular_file
from mtls_doctor.graph import IssuanceGraph, Source
from mtls_doctor.graphbuild import GraphBuilder
from mtls_doctor.model import CertFacts
from mtls_doctor.pem import scan_pem
from mtls_doctor.serverconf.facts import (
    BlockMaterial,
    ConfigFile,
    CRLFacts,
    FileFacts,
    FileProblem,
    TLSServerBlock,
)
from mtls_doctor.x509facts import cert_facts

#: No CA bundle or CRL file a server loads is near this; larger input is refused.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: A CA or CRL directory scan stops after this many files.
MAX_DIRECTORY_FILES = 2000

_CERT_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"}
_CRL_LABELS = {b"X509 CRL"}
_SHA256 = hashes.SHA256()
_FILE_PROBLEMS = {
    FileFault.MISSING: FileProblem.MISSING,
    FileFault.UNREADABLE: FileProblem.UNREADABLE,
    FileFault.NOT_REGULAR: FileProblem.WRONG_TYPE,
    FileFault.TOO_LARGE: FileProblem.UNREADABLE,
}


@dataclass(slots=True)
class _Read:
    """One file's raw content, shared by every block that names it."""

    problem: FileProblem | None = None
    detail: str = ""
    certificates: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    #: PEM blocks that did not parse, by number (1-based), for the detail.
    broken: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LoadedBlock:
    """A block's material as facts, plus the live objects offline acceptance needs."""

    material: BlockMaterial
    #: Trusted CA certificates, deduplicated, in configuration order.
    trusted: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]


def _fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parse_pem(data: bytes, read: _Read) -> None:
    for number, block in enumerate(scan_pem(data).blocks, start=1):
        label, text = block.label, block.text
        try:
            if label in _CERT_LABELS:
                if label == b"TRUSTED CERTIFICATE":
                    # OpenSSL's "trusted certificate": DER of the certificate + trust settings.
                    text = text.replace(b"TRUSTED CERTIFICATE", b"CERTIFICATE")
                read.certificates.append(x509.load_pem_x509_certificate(text))
            elif label in _CRL_LABELS:
                read.crls.append(x509.load_pem_x509_crl(text))
        except ValueError:
            read.broken.append(number)


def _read_file(path: Path) -> _Read:
    read = _Read()
    if path.is_dir():
        return _Read(FileProblem.WRONG_TYPE, "is a directory, not a file")
    try:
        data = read_regular_file(path, limit=MAX_FILE_BYTES, what="CA or CRL file")
    except FileReadError as exc:
        return _Read(_FILE_PROBLEMS[exc.kind], exc.reason)
    if not data.strip():
        return _Read(FileProblem.EMPTY, "the file is empty")
    if b"-----BEGIN " not in data:
        detail = "not PEM"
        if data[:1] == b"\x30":
            detail = "DER (binary); the server reads PEM only: convert it with `openssl x509`"
        return _Read(FileProblem.NO_CONTENT, detail)
    _parse_pem(data, read)
    if read.broken:
        numbers = ", ".join(str(n) for n in read.broken)
        read.detail = f"PEM block(s) {numbers} do not parse (corrupt base64 or DER)"
    return read


def _read_directory(path: Path) -> _Read:
    if not path.exists():
        return _Read(FileProblem.MISSING, "no such directory")
    if not path.is_dir():
        return _Read(FileProblem.WRONG_TYPE, "is a file, not a directory")
    merged = _Read()
    try:
        visible = (p for p in path.iterdir() if not p.name.startswith(".") and p.is_file())
        entries = sorted(islice(visible, MAX_DIRECTORY_FILES))
    except OSError as exc:
        return _Read(FileProblem.UNREADABLE, exc.strerror or str(exc))
    for entry in entries:
        one = _read_file(entry)
        merged.certificates.extend(one.certificates)
        merged.crls.extend(one.crls)
    if not entries:
        return _Read(FileProblem.EMPTY, "the directory is empty")
    return merged


class MaterialLoader:
    """Loads the files of server blocks, reading each path once."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, bool], _Read] = {}
        #: Signature checks of the issuance graphs built on these files (blocks share files).
        self.signatures: dict[tuple[str, str], bool] = {}
        # Blocks share files: what depends only on a file (and the trusted set) is
        # computed once, not once per block (100,000 blocks naming one bundle).
        self._cert_facts: dict[int, tuple[CertFacts, ...]] = {}
        self._crl_facts: dict[tuple[int, tuple[bytes, ...]], tuple[CRLFacts, ...]] = {}
        self._graphs: dict[tuple[bytes, ...], IssuanceGraph] = {}

    def _read(self, config: ConfigFile) -> _Read:
        key = (config.path, config.role.is_directory)
        if key not in self._cache:
            path = Path(config.path)
            self._cache[key] = (
                _read_directory(path) if config.role.is_directory else _read_file(path)
            )
        return self._cache[key]

    def _certificate_facts(self, read: _Read) -> tuple[CertFacts, ...]:
        if id(read) not in self._cert_facts:
            self._cert_facts[id(read)] = tuple(cert_facts(c) for c in read.certificates)
        return self._cert_facts[id(read)]

    def _crls_facts(
        self, read: _Read, trusted: list[x509.Certificate], key: tuple[bytes, ...]
    ) -> tuple[CRLFacts, ...]:
        if (id(read), key) not in self._crl_facts:
            self._crl_facts[id(read), key] = tuple(crl_facts(c, trusted) for c in read.crls)
        return self._crl_facts[id(read), key]

    def load(self, block: TLSServerBlock) -> LoadedBlock:
        """Every file of ``block``, with CRL signatures checked against its trusted CAs."""
        reads = [(config, self._read(config)) for config in block.files]
        trusted: list[x509.Certificate] = []
        seen: dict[bytes, None] = {}
        for config, read in reads:
            if not config.role.trusted:
                continue
            certificates = read.certificates
            if block.trusts_first_ca_only:
                certificates = first_and_its_issuers(certificates)
            for cert in certificates:
                fp = cert.fingerprint(_SHA256)
                if fp not in seen:
                    seen[fp] = None
                    trusted.append(cert)
        trusted_key = tuple(seen)
        files: list[FileFacts] = []
        crls: list[x509.CertificateRevocationList] = []
        for config, read in reads:
            problem, detail = read.problem, read.detail
            if problem is None:
                wanted = read.crls if config.role.is_crl else read.certificates
                if not wanted:
                    problem = FileProblem.NO_CONTENT
                    kind = "CRL" if config.role.is_crl else "certificate"
                    detail = detail or f"holds no PEM {kind}"
            if config.role.is_crl:
                crls.extend(read.crls)
            files.append(
                FileFacts(
                    config=config,
                    problem=problem,
                    detail=detail,
                    certificates=self._certificate_facts(read),
                    crls=self._crls_facts(read, trusted, trusted_key),
                )
            )
        if trusted_key not in self._graphs:
            builder = GraphBuilder(checked=self.signatures)
            builder.add(trusted, Source.SERVER_CA)
            self._graphs[trusted_key] = builder.graph()
        material = BlockMaterial(files=tuple(files), graph=self._graphs[trusted_key])
        return LoadedBlock(material, tuple(trusted), tuple(crls))


def crl_signer(
    crl: x509.CertificateRevocationList, cas: tuple[x509.Certificate, ...] | list[x509.Certificate]
) -> x509.Certificate | None:
    """The CA among ``cas`` whose name and key issued ``crl``, or None."""
    for ca in cas:
        if ca.subject != crl.issuer:
            continue
        try:
            if crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                return ca
        except (TypeError, ValueError):
            continue
    return None


def crl_facts(
    crl: x509.CertificateRevocationList,
    cas: tuple[x509.Certificate, ...] | list[x509.Certificate] = (),
) -> CRLFacts:
    """Facts about one CRL; ``verified_by`` is the fingerprint of the CA that signed it."""
    try:
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        aki_hex = aki.key_identifier.hex() if aki.key_identifier else None
    except (x509.ExtensionNotFound, ValueError):
        aki_hex = None
    signer = crl_signer(crl, cas)
    next_update = crl.next_update_utc
    return CRLFacts(
        issuer=crl.issuer.rfc4514_string(),
        this_update=crl.last_update_utc.astimezone(UTC),
        next_update=next_update.astimezone(UTC) if next_update is not None else None,
        revoked_serials=tuple(format(r.serial_number, "x") for r in crl),
        authority_key_id=aki_hex,
        fingerprint_sha256=_fingerprint(crl.public_bytes(serialization.Encoding.DER)),
        verified_by=signer.fingerprint(_SHA256).hex() if signer is not None else None,
    )


def first_and_its_issuers(certificates: list[x509.Certificate]) -> list[x509.Certificate]:
    """The file's first certificate and, by name, the ones above it in the same file."""
    if not certificates:
        return []
    chain = [certificates[0]]
    while chain[-1].issuer != chain[-1].subject:
        above = next(
            (c for c in certificates if c.subject == chain[-1].issuer and c not in chain), None
        )
        if above is None:
            break
        chain.append(above)
    return chain


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Certificates of a PEM or DER file (``--issuing-ca``); [] when none parse."""
    read = _read_file(path)
    if read.certificates or read.problem is not FileProblem.NO_CONTENT:
        return read.certificates
    try:
        data = read_regular_file(path, limit=MAX_FILE_BYTES, what="certificate file")
        return [x509.load_der_x509_certificate(data)]
    except (InputError, ValueError):
        return []
