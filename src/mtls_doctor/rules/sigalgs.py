"""Pure rule: which of the server's signature algorithms a client key could use.

When the client's TLS library held a certificate but sent none, the usual
reason is that no signature algorithm the server asked for suits the key.
That is only said when it is true of the list; otherwise the cause of the
silence lies in the client's TLS library and the verdict says so.
"""

from __future__ import annotations

#: Prefixes of TLS SignatureScheme names each key type can sign with. Generous on
#: purpose (an RSA key may be RSA-PSS; TLS 1.2 ECDSA is not bound to a curve): a
#: match only stops us from claiming that nothing fits.
_FITS: dict[str, tuple[str, ...]] = {
    "RSA": ("rsa_",),
    "RSA-PSS": ("rsa_pss_pss_",),
    "EC": ("ecdsa_",),
    "Ed25519": ("ed25519",),
    "Ed448": ("ed448",),
    "DSA": ("dsa_",),
}


def fitting(key_type: str, algorithms: tuple[str, ...]) -> tuple[str, ...]:
    """The algorithms of ``algorithms`` that a ``key_type`` key could sign with."""
    prefixes = _FITS.get(key_type)
    if prefixes is None:
        return ()
    return tuple(a for a in algorithms if a.startswith(prefixes))


def certificate_not_sent(key_type: str, algorithms: tuple[str, ...]) -> str:
    """Why the client's TLS library presented nothing, as far as the facts tell."""
    fit = fitting(key_type, algorithms)
    if not fit:
        listed = ", ".join(algorithms) or "none listed"
        return (
            "The client had a certificate but its TLS library did not send it: none of the "
            f"signature algorithms the server asked for ({listed}) fits its {key_type} key."
        )
    return (
        "The client had a certificate but its TLS library did not send it, although the "
        f"server asked for {', '.join(fit[:3])}, which suits its {key_type} key: most likely "
        "this key type is the reason, but the signature algorithms do not show it; try the "
        "same certificate with another client (openssl s_client -cert -key)."
    )
