"""The lab's CA web server on 127.0.0.1: CRLs, CA certificates and OCSP.

It answers the URLs that ``build_lab_pki(..., base_url=...)`` writes into the
lab certificates (``ca`` is ``root``, ``intermediate``, ``unrelated`` or
``rotated``)::

    GET  /crl/{ca}.crl           the CA's CRL, DER (RFC 5280 5)
    GET  /ca/{ca}.der            the CA's certificate, DER (AIA caIssuers, RFC 5280 4.2.2.1)
    POST /ocsp/{ca}              OCSP (RFC 6960 A.1), body application/ocsp-request
    GET  /ocsp/{ca}/{base64}     the same request, URL-encoded base64 of its DER

The OCSP answers are built with ``cryptography``'s ``OCSPResponseBuilder`` and
signed by the CA itself, or by a delegated responder certificate the CA
issued with id-kp-OCSPSigning (RFC 6960 4.2.2.2). Whatever a CA revoked in
its CRL, OCSP says revoked too: the lab CA is consistent. The CRLs, the
delegated responder certificates and the deliberately broken answers are
built in ``answers.py``; this module decides which to serve.

The certificates must carry the URL before the server's port is known, so
the socket is bound first (:class:`Responder` binds in its constructor),
the PKI is built with that port (``build_lab_pki(dir, base_url=r.base_url)``)
and only then served (:meth:`Responder.serve`); :func:`start_responder` does
all three.

For tests, :meth:`Responder.set_mode` makes it misbehave the ways real CAs
do: stale answers, bad signatures, a wrong responder, zero responses, an
answer about another certificate, oversized bodies, a redirect to
``file://``. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import os
import threading
import urllib.parse
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from mtls_doctor.lab.answers import (
    Revocation,
    build_served_crl,
    entry_reason,
    flip_last_bit,
    names_issuer,
    ocsp_reason,
    responder_certificate,
    without_single_responses,
)
from mtls_doctor.lab.pki import LabCA, LabPKI, build_lab_pki
from mtls_doctor.x509facts import is_issued_by

__all__ = ["CA_NAMES", "Mode", "Responder", "start_responder"]

LOOPBACK = "127.0.0.1"
#: The CA names of the URLs, as ``build_lab_pki`` writes them.
CA_NAMES = ("root", "intermediate", "unrelated", "rotated")
#: How long a normal OCSP answer is valid (RFC 5019 2.2.4 suggests days; the lab is short-lived).
OCSP_VALIDITY = timedelta(hours=12)
#: Size of an ``oversized`` body: over every cap of ``mtls_doctor.revocation``.
OVERSIZE_BYTES = 11 * 1024 * 1024


class Mode(StrEnum):
    """How the responder answers (per CA, for OCSP and CRL separately)."""

    NORMAL = "normal"
    #: thisUpdate a month ago, nextUpdate three weeks ago.
    STALE = "stale"
    #: Signed by the CA, then one bit of the signature flipped.
    BAD_SIGNATURE = "bad-signature"
    #: OCSP: signed by a responder certificate of another CA (with OCSPSigning).
    #: CRL: a CRL issued and signed by another CA.
    WRONG_RESPONDER = "wrong-responder"
    #: OCSP: signed by a certificate the CA issued, but without the OCSPSigning EKU.
    RESPONDER_WITHOUT_EKU = "responder-without-eku"
    #: OCSP: signed by a proper delegated responder (this one must verify).
    DELEGATED = "delegated"
    #: OCSP: a successful, properly signed response with zero SingleResponses.
    ZERO_RESPONSES = "zero-responses"
    #: OCSP: a properly signed answer about another serial number.
    OTHER_CERTIFICATE = "other-certificate"
    #: OCSP: certStatus unknown for every certificate.
    UNKNOWN = "unknown"
    #: OCSP: the unsuccessful status tryLater.
    TRY_LATER = "try-later"
    #: OCSP: 405 for POST; GET still works.
    POST_REFUSED = "post-refused"
    #: CRL: an issuing distribution point naming another URL (RFC 5280 5.2.5).
    IDP_MISMATCH = "idp-mismatch"
    #: An endless-looking body (OVERSIZE_BYTES) without a Content-Length.
    OVERSIZED = "oversized"
    #: 302 to file:///etc/passwd.
    REDIRECT_FILE = "redirect-file"
    #: 404.
    NOT_FOUND = "not-found"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    responder: Responder


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection; a body ends at close

    def do_GET(self) -> None:
        self.server.responder._handle(self, "GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 64 * 1024))
        self.server.responder._handle(self, "POST", body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the requests are in :attr:`Responder.requests`."""


class Responder:
    """The lab CA's HTTP server; binds 127.0.0.1 (``port`` 0: a free port) on creation."""

    def __init__(self, *, port: int = 0, now: datetime | None = None) -> None:
        self._server = _Server((LOOPBACK, port), _Handler)
        self._server.responder = self
        #: A fixed clock for the answers (tests); None: the real time.
        self.fixed_now = now
        self.pki: LabPKI | None = None
        self._lock = threading.Lock()
        self._requests: list[str] = []
        self._thread: threading.Thread | None = None
        self._modes: dict[tuple[str, str | None], Mode] = {}
        self._cas: dict[str, LabCA] = {}
        self._issued: dict[str, set[int]] = {}
        self._revoked: dict[str, dict[int, Revocation]] = {}
        self._changed: set[str] = set()
        self._delegates: dict[tuple[str, Mode], tuple[x509.Certificate, Any]] = {}

    # ----------------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: what ``build_lab_pki(base_url=...)`` wants."""
        return f"http://{LOOPBACK}:{self.port}"

    def serve(self, pki: LabPKI) -> Responder:
        """Answer for ``pki`` from now on (in a thread); returns self."""
        self.pki = pki
        self._cas = {
            "root": pki.root,
            "intermediate": pki.intermediate,
            "unrelated": pki.unrelated,
            "rotated": pki.rotated,
        }
        issued = [pki.intermediate.certificate, pki.server_cert]
        issued += [ident.certificate for ident in pki.identities.values()]
        self._issued = {
            name: {c.serial_number for c in issued if is_issued_by(c, ca.certificate)}
            for name, ca in self._cas.items()
        }
        self._load_revocations()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.name = f"lab-responder-{self.port}"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Responder:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------------- test knobs

    def set_mode(
        self, *, ocsp: Mode | None = None, crl: Mode | None = None, ca: str | None = None
    ) -> None:
        """Misbehave for OCSP and/or CRL requests about ``ca`` (None: every CA)."""
        if ocsp is not None:
            self._modes["ocsp", ca] = ocsp
        if crl is not None:
            self._modes["crl", ca] = crl

    def revoke(
        self,
        ca: str,
        serial: int,
        *,
        reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise,
        when: datetime | None = None,
    ) -> None:
        """Revoke ``serial`` under ``ca`` (its CRL and OCSP both say so from now on)."""
        moment = when or self._now() - timedelta(hours=1)
        self._revoked[ca][serial] = Revocation(moment.replace(microsecond=0), reason)
        self._changed.add(ca)

    def reset(self) -> None:
        """Normal answers, the PKI's own revocations, an empty request log."""
        self._modes.clear()
        if self.pki is not None and self._changed:
            self._changed.clear()
            self._load_revocations()
        with self._lock:
            self._requests.clear()

    def _load_revocations(self) -> None:
        """What the PKI's CRL files revoke (so OCSP and the servers agree)."""
        self._revoked = {name: {} for name in CA_NAMES}
        for name in ("root", "intermediate"):
            crl = self._file_crl(name)
            if crl is not None:
                self._revoked[name] = {
                    e.serial_number: Revocation(e.revocation_date_utc, entry_reason(e)) for e in crl
                }

    @property
    def requests(self) -> list[str]:
        """Every request so far, as ``METHOD /path`` (for tests: was anything asked?)."""
        with self._lock:
            return list(self._requests)

    # ----------------------------------------------------------------------- serving

    def _now(self) -> datetime:
        return (self.fixed_now or datetime.now(UTC)).replace(microsecond=0)

    def _mode(self, kind: str, ca: str) -> Mode:
        return self._modes.get((kind, ca)) or self._modes.get((kind, None)) or Mode.NORMAL

    def _handle(self, handler: _Handler, method: str, body: bytes) -> None:
        path = urllib.parse.urlsplit(handler.path).path
        with self._lock:
            self._requests.append(f"{method} {path}")
        parts = path.strip("/").split("/", 2)
        try:
            if self.pki is None:
                return _send(handler, 503, b"not serving yet")
            if len(parts) == 2 and parts[0] == "crl" and parts[1].endswith(".crl"):
                ca = parts[1].removesuffix(".crl")
                if ca in self._cas:
                    return self._send_crl(handler, ca)
            if len(parts) == 2 and parts[0] == "ca" and parts[1].endswith(".der"):
                ca = parts[1].removesuffix(".der")
                if ca in self._cas:
                    cert = self._cas[ca].certificate
                    return _send(
                        handler,
                        200,
                        cert.public_bytes(serialization.Encoding.DER),
                        "application/pkix-cert",
                    )
            if parts[0] == "ocsp" and len(parts) >= 2 and parts[1] in self._cas:
                if method == "GET" and len(parts) == 3:
                    encoded = urllib.parse.unquote(parts[2])
                    try:
                        der = base64.b64decode(encoded, validate=False)
                    except ValueError:
                        der = b""
                    return self._send_ocsp(handler, parts[1], der, method)
                if method == "POST" and len(parts) == 2:
                    return self._send_ocsp(handler, parts[1], body, method)
            return _send(handler, 404, b"not found")
        except (BrokenPipeError, ConnectionResetError):
            return None  # the client stopped reading (a size cap): expected

    def _misbehave(self, handler: _Handler, mode: Mode) -> bool:
        """Answer for the modes that are about HTTP, not content; True when answered."""
        if mode is Mode.NOT_FOUND:
            _send(handler, 404, b"not found")
        elif mode is Mode.REDIRECT_FILE:
            handler.send_response(302)
            handler.send_header("Location", "file:///etc/passwd")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif mode is Mode.OVERSIZED:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.end_headers()  # no Content-Length: the client must count for itself
            chunk = b"\0" * 65536
            for _ in range(OVERSIZE_BYTES // len(chunk)):
                handler.wfile.write(chunk)
        else:
            return False
        return True

    # ----------------------------------------------------------------------- CRL

    def _send_crl(self, handler: _Handler, ca: str) -> None:
        mode = self._mode("crl", ca)
        if self._misbehave(handler, mode):
            return
        _send(handler, 200, self.crl_der(ca, mode), "application/pkix-crl")

    def _file_crl(self, ca: str) -> x509.CertificateRevocationList | None:
        assert self.pki is not None
        path = self.pki.directory / "ca" / f"{ca}.crl"
        try:
            return x509.load_der_x509_crl(path.read_bytes())
        except (OSError, ValueError):
            return None

    def crl_der(self, ca: str, mode: Mode = Mode.NORMAL) -> bytes:
        """The CRL served for ``ca`` in ``mode`` (DER)."""
        assert self.pki is not None
        now = self._now()
        path = self.pki.directory / "ca" / f"{ca}.crl"
        if mode is Mode.NORMAL and ca not in self._changed and path.exists():
            return path.read_bytes()  # exactly what the lab's servers load
        this_update, issuer, idp = now - timedelta(hours=1), self._cas[ca], None
        if mode is Mode.STALE:
            this_update = now - timedelta(days=30)
        elif mode is Mode.WRONG_RESPONDER:
            issuer = self._cas["root" if ca == "unrelated" else "unrelated"]
        elif mode is Mode.IDP_MISMATCH:
            idp = f"{self.base_url}/crl/elsewhere.crl"
        der = build_served_crl(issuer, self._revoked[ca], this_update, idp)
        if mode is Mode.BAD_SIGNATURE:
            return flip_last_bit(der)
        return der

    # ----------------------------------------------------------------------- OCSP

    def _send_ocsp(self, handler: _Handler, ca: str, der: bytes, method: str) -> None:
        mode = self._mode("ocsp", ca)
        if mode is Mode.POST_REFUSED and method == "POST":
            return _send(handler, 405, b"use GET")
        if self._misbehave(handler, mode):
            return None
        return _send(handler, 200, self.ocsp_der(ca, der, mode), "application/ocsp-response")

    def ocsp_der(self, ca: str, request_der: bytes, mode: Mode = Mode.NORMAL) -> bytes:
        """The OCSP response to ``request_der`` about a certificate of ``ca`` (DER)."""
        encoding = serialization.Encoding.DER
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            unsuccessful = ocsp.OCSPResponseStatus.MALFORMED_REQUEST
            return ocsp.OCSPResponseBuilder.build_unsuccessful(unsuccessful).public_bytes(encoding)
        issuer = self._cas[ca]
        if mode is Mode.TRY_LATER:
            status = ocsp.OCSPResponseStatus.TRY_LATER
            return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(encoding)
        if not names_issuer(request, issuer.certificate):
            # RFC 6960 2.3: "unauthorized" when the responder is not authoritative for it.
            status = ocsp.OCSPResponseStatus.UNAUTHORIZED
            return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(encoding)
        serial = request.serial_number
        now = self._now()
        revocation = self._revoked[ca].get(serial)
        cert_status = ocsp.OCSPCertStatus.UNKNOWN
        if mode is not Mode.UNKNOWN and revocation is not None:
            cert_status = ocsp.OCSPCertStatus.REVOKED
        elif mode is not Mode.UNKNOWN and serial in self._issued[ca]:
            cert_status = ocsp.OCSPCertStatus.GOOD
        this_update = now - timedelta(days=30) if mode is Mode.STALE else now
        revoked = cert_status is ocsp.OCSPCertStatus.REVOKED and revocation is not None
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=serial + 1 if mode is Mode.OTHER_CERTIFICATE else serial,
            algorithm=request.hash_algorithm,
            cert_status=cert_status,
            this_update=this_update,
            next_update=this_update + OCSP_VALIDITY,
            revocation_time=revocation.time if revoked and revocation else None,
            revocation_reason=ocsp_reason(revocation.reason) if revoked and revocation else None,
        )
        signer_cert, signer_key = self._signer(ca, mode)
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer_cert)
        if signer_cert is not issuer.certificate:
            builder = builder.certificates([signer_cert])
        for ext in request.extensions:
            if isinstance(ext.value, x509.OCSPNonce):  # RFC 8954: echo the nonce
                builder = builder.add_extension(ext.value, critical=False)
        der = builder.sign(signer_key, hashes.SHA256()).public_bytes(encoding)
        if mode is Mode.BAD_SIGNATURE:
            return flip_last_bit(der)  # signed by the CA, no certificates: the signature is last
        if mode is Mode.ZERO_RESPONSES:
            return without_single_responses(der, signer_key)
        return der

    def _signer(self, ca: str, mode: Mode) -> tuple[x509.Certificate, Any]:
        """The certificate and key that sign an OCSP answer about ``ca``'s certificates."""
        issuer = self._cas[ca]
        if mode not in (Mode.DELEGATED, Mode.WRONG_RESPONDER, Mode.RESPONDER_WITHOUT_EKU):
            return issuer.certificate, issuer.key
        if (ca, mode) not in self._delegates:
            signer = issuer
            if mode is Mode.WRONG_RESPONDER:
                signer = self._cas["root" if ca == "unrelated" else "unrelated"]
            self._delegates[ca, mode] = responder_certificate(
                signer, ca, self._now(), eku=mode is not Mode.RESPONDER_WITHOUT_EKU
            )
        return self._delegates[ca, mode]


def start_responder(
    pki_or_directory: LabPKI | str | os.PathLike[str], *, now: datetime | None = None
) -> Responder:
    """Serve a lab PKI's CRLs, CA certificates and OCSP on 127.0.0.1; returns the Responder.

    Given a directory: bind a free port, build the lab PKI there with
    ``base_url`` pointing at it (``responder.pki``), then serve. Given a
    :class:`LabPKI`: serve it on the port its ``base_url`` names. ``now``
    fixes the PKI's and the answers' clock (default: the real time).
    """
    if isinstance(pki_or_directory, LabPKI):
        pki = pki_or_directory
        parts = urllib.parse.urlsplit(pki.base_url or "")
        if parts.hostname != LOOPBACK or parts.port is None:
            raise ValueError(f"the lab PKI's base_url must be http://{LOOPBACK}:PORT")
        return Responder(port=parts.port, now=now).serve(pki)
    responder = Responder(now=now)
    try:
        pki = build_lab_pki(pki_or_directory, now=now, base_url=responder.base_url)
    except BaseException:
        responder.stop()
        raise
    return responder.serve(pki)


# --------------------------------------------------------------------------- HTTP


def _send(handler: _Handler, status: int, body: bytes, content_type: str = "text/plain") -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
