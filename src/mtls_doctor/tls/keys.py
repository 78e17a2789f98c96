"""Adapter: the private key in the form OpenSSL pairs with the certificate.

cryptography loads an RSA-PSS private key (OID rsassaPss) as a plain RSA key,
and hands it to OpenSSL as ``rsaEncryption``. OpenSSL files a certificate with
an RSA-PSS public key and an ``rsaEncryption`` key in different slots, so the
pair never forms and the client certificate is silently not sent (the server
then says ``certificate_required``). For such a certificate we re-label the
key as RSA-PSS: a PKCS#8 wrapper around the same PKCS#1 key, written by hand
because it is three DER elements and cryptography has no way to write it.
pyOpenSSL (pinned below 27) only deprecates taking its own ``PKey``; the key
never touches a file.
"""

from __future__ import annotations

import warnings
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import PublicKeyAlgorithmOID
from OpenSSL import SSL, crypto

# AlgorithmIdentifier { rsassaPss (1.2.840.113549.1.1.10) }, parameters absent
# (an unrestricted RSA-PSS key, RFC 4055 section 3.1).
_RSASSA_PSS_ALGORITHM = bytes.fromhex("300b06092a864886f70d01010a")


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def use_private_key(ctx: SSL.Context, certificate: x509.Certificate, key: Any) -> None:
    """Give ``ctx`` the key of ``certificate`` so that OpenSSL pairs them."""
    if (
        not isinstance(key, rsa.RSAPrivateKey)
        or certificate.public_key_algorithm_oid != PublicKeyAlgorithmOID.RSASSA_PSS
    ):
        ctx.use_privatekey(key)
        return
    pkcs1 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    info = _der(0x30, b"\x02\x01\x00" + _RSASSA_PSS_ALGORITHM + _der(0x04, pkcs1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.use_privatekey(crypto.load_privatekey(crypto.FILETYPE_ASN1, info))
