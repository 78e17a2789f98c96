"""The browser's certificate picker: which identities it offers for a server, in which order.

Modelled on Chromium on Linux (NSS store), *measured* with Debian's
chromium against servers that list their CA names (the table in
``tests/browser/test_chromium.py`` is re-measured by the test suite):

* offered: a certificate with its private key, valid now, usable for TLS
  client authentication, whose issuing chain *as far as the store can build
  it* has a certificate issued by a CA name the server listed. A server
  that lists no names gets every valid identity;
* left out (never shown, never sent): expired or not yet valid, no
  clientAuth extended key usage, issuer not among the listed names,
  including a leaf whose intermediate is not in the store;
* not filtered (offered, then rejected by the server): revoked, rotated
  issuer key under the same name, weak keys;
* order: Chromium's sort (``net/ssl/client_cert_identity.cc``): the latest
  expiry first, then the latest start, then the shorter chain. With the
  ``AutoSelectCertificateForUrls`` policy (or after one choice, until the
  browser restarts) the first match is sent without a prompt.

Firefox (NSS's ``CERT_FindUserCertsByUsage`` with valid-only, and
``CERT_FilterCertListByCANames``) applies the same filters in its dialog;
not measured here. Its "Remember this decision" keeps a choice per site.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mtls_doctor.model import CertFacts, ChainFacts, ChainLink, IdentityFacts, Source
from mtls_doctor.rules.chain import Reach, analyze_chain
from mtls_doctor.rules.identity import allows_client_auth


class Reason(StrEnum):
    """Why a browser leaves an identity out of its picker (CONTRACT.md ``reasons``)."""

    NO_PRIVATE_KEY = "no_private_key"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    NO_CLIENT_AUTH_USAGE = "no_client_auth_usage"
    ISSUER_NOT_ACCEPTED = "issuer_not_accepted"
    INTERMEDIATE_NOT_IN_STORE = "intermediate_not_in_store"


#: Reason → (what it means, which browser behaviour it models).
REASON_TEXT: dict[Reason, tuple[str, str]] = {
    Reason.NO_PRIVATE_KEY: (
        "the store holds the certificate but not its private key",
        "Chromium and Firefox list only certificates with a key (NSS user certificates)",
    ),
    Reason.EXPIRED: (
        "the certificate has expired",
        "Chromium on Linux (measured) and Firefox do not offer expired certificates",
    ),
    Reason.NOT_YET_VALID: (
        "the certificate is not valid yet (or the clock is wrong)",
        "Chromium on Linux (measured) and Firefox do not offer it before notBefore",
    ),
    Reason.NO_CLIENT_AUTH_USAGE: (
        "its (extended) key usage does not allow TLS client authentication",
        "Chromium on Linux (measured) and Firefox filter by the clientAuth usage",
    ),
    Reason.ISSUER_NOT_ACCEPTED: (
        "no certificate on its chain was issued by a CA the server listed",
        "Chromium on Linux (measured) and Firefox filter by the server's CA names",
    ),
    Reason.INTERMEDIATE_NOT_IN_STORE: (
        "its issuer's certificate is not in the store, so the chain stops short of the listed CAs",
        "Chromium on Linux (measured) matches only the chain the store itself can build",
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One identity as the picker sees it."""

    identity: IdentityFacts
    #: Empty when offered.
    reasons: tuple[Reason, ...] = ()
    #: The listed CA name its chain reaches (None: no names listed, or none reached).
    accepted_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PickerView:
    """What the picker shows for one server."""

    #: In the order the browser offers them; the first is what auto-selection sends.
    offered: tuple[Candidate, ...]
    not_offered: tuple[Candidate, ...]
    #: The CA names the server listed (empty: it listed none, so no issuer filter).
    ca_names: tuple[str, ...]

    @property
    def chosen(self) -> Candidate | None:
        """What the browser sends with auto-selection (and lists first otherwise)."""
        return self.offered[0] if self.offered else None


def store_chain(identity: IdentityFacts) -> ChainFacts:
    """The chain the store itself builds for ``identity`` (all of it is sent)."""
    return ChainFacts(
        path=tuple(
            ChainLink(certificate=c, source=Source.STORE, sent=True) for c in identity.issuing_path
        )
    )


def picker_reasons(
    identity: IdentityFacts, acceptable: tuple[str, ...], now: datetime
) -> tuple[tuple[Reason, ...], str | None]:
    """Why the picker would leave ``identity`` out (empty: offered), and the name it reaches."""
    cert = identity.certificate
    reasons: list[Reason] = []
    if not identity.has_private_key or identity.key_matches is False:
        reasons.append(Reason.NO_PRIVATE_KEY)
    if now > cert.not_after:
        reasons.append(Reason.EXPIRED)
    elif now < cert.not_before:
        reasons.append(Reason.NOT_YET_VALID)
    if not allows_client_auth(cert):
        reasons.append(Reason.NO_CLIENT_AUTH_USAGE)
    reach = analyze_chain(identity, store_chain(identity), acceptable)
    if reach.reach is Reach.UNTRUSTED:
        reasons.append(Reason.ISSUER_NOT_ACCEPTED)
        top = identity.issuing_path[-1] if identity.issuing_path else cert
        if not top.self_signed:
            reasons.append(Reason.INTERMEDIATE_NOT_IN_STORE)
    return tuple(reasons), reach.accepted_name


def _sort_key(candidate: Candidate) -> tuple[float, float, int]:
    """Chromium's ClientCertIdentitySorter: later expiry, later start, shorter chain first."""
    cert = candidate.identity.certificate
    return (
        -cert.not_after.timestamp(),
        -cert.not_before.timestamp(),
        candidate.identity.path_length,
    )


def browser_picker(
    identities: Sequence[IdentityFacts], acceptable: tuple[str, ...], now: datetime
) -> PickerView:
    """Split ``identities`` into what the browser offers (sorted) and what it leaves out."""
    offered: list[Candidate] = []
    left_out: list[Candidate] = []
    for identity in identities:
        reasons, name = picker_reasons(identity, acceptable, now)
        candidate = Candidate(identity=identity, reasons=reasons, accepted_name=name)
        (left_out if reasons else offered).append(candidate)
    return PickerView(
        offered=tuple(sorted(offered, key=_sort_key)),
        not_offered=tuple(left_out),
        ca_names=acceptable,
    )


def best_candidate(view: PickerView) -> Candidate | None:
    """The identity the user most likely meant: offered first, else the fewest reasons."""
    if view.offered:
        return view.offered[0]
    if not view.not_offered:
        return None
    return min(
        view.not_offered,
        key=lambda c: (Reason.NO_PRIVATE_KEY in c.reasons, len(c.reasons), *_sort_key(c)),
    )


_RDN = re.compile(r"(?:^|,)((?:[^,\\]|\\.)+)")


def name_attribute(rfc4514: str, attribute: str) -> str | None:
    """One attribute (``CN``, ``O``...) of an RFC 4514 name, unescaped; None if absent."""
    for match in _RDN.finditer(rfc4514):
        key, _, value = match.group(1).partition("=")
        if key.strip().upper() == attribute:
            return re.sub(r"\\(.)", r"\1", value)
    return None


def origin_pattern(host: str, port: int) -> str:
    """A content-settings pattern for one origin, as the policy takes it."""
    shown = f"[{host}]" if ":" in host else host
    return f"https://{shown}" if port == 443 else f"https://{shown}:{port}"


def _filter_part(name: str) -> dict[str, str]:
    for attribute in ("CN", "O", "OU"):
        value = name_attribute(name, attribute)
        if value is not None:
            return {attribute: value}
    return {}


def autoselect_policy(pattern: str, cert: CertFacts) -> dict[str, list[str]]:
    """The ``AutoSelectCertificateForUrls`` policy that picks ``cert`` for ``pattern``.

    Chromium takes a list of JSON *strings*; the filter matches the
    certificate's subject and its issuer by CN (else O / OU).
    """
    rule: dict[str, object] = {"pattern": pattern, "filter": {}}
    filters: dict[str, dict[str, str]] = {}
    subject, issuer = _filter_part(cert.subject), _filter_part(cert.issuer)
    if subject:
        filters["SUBJECT"] = subject
    if issuer:
        filters["ISSUER"] = issuer
    rule["filter"] = filters
    return {"AutoSelectCertificateForUrls": [json.dumps(rule, separators=(",", ":"))]}


#: How to make the browser ask again after a choice was remembered.
FORGET_CHOICE: tuple[str, ...] = (
    "Chrome/Chromium remembers the certificate chosen for a site until the browser "
    "restarts: close every window (or open chrome://restart) to be asked again.",
    "Firefox: a choice made with 'Remember this decision' is kept per site; remove it in "
    "Settings > Privacy & Security > Certificates > View Certificates "
    "(Authentication Decisions tab in recent versions), or restart Firefox if it was not "
    "ticked.",
)


def _db(source: str) -> str:
    """``sql:DIR`` for an NSS identity's source ``nss:DIR#nick``; a placeholder otherwise."""
    if source.startswith("nss:"):
        return "sql:" + source[4:].rpartition("#")[0]
    return "sql:$HOME/.pki/nssdb"


def _top_issuer(identity: IdentityFacts) -> str:
    path = identity.issuing_path
    return (path[-1] if path else identity.certificate).issuer


def _how(source: str) -> str:
    """The ``check`` option that names this identity's source."""
    if source.startswith("nss:"):
        return f"--store {source.rpartition('#')[0]}"
    return f"--cert {source.partition('#')[0]}"


def next_steps(
    view: PickerView, client_auth_requested: bool, target: str = "TARGET"
) -> tuple[str, ...]:
    """What to do, from the picker's answer (true commands only)."""
    if not client_auth_requested:
        return (
            "The server does not ask for a client certificate on this name and port, so no "
            "browser shows a certificate prompt here: look at another host name, path or port.",
        )
    chosen = view.chosen
    if chosen is not None:
        more = len(view.offered) - 1
        return (
            f"The browser offers {chosen.identity.source} first"
            + (f" (and {more} more in its prompt)." if more else ".")
            + " If the server still refuses it, run "
            f"`mtls-doctor check {target} {_how(chosen.identity.source)}` to learn why.",
        )
    best = best_candidate(view)
    if best is None:
        return (
            "No client identity was found: import yours (with its key), e.g. "
            "`pk12util -i bundle.p12 -d sql:$HOME/.pki/nssdb`, then restart the browser.",
        )
    db = _db(best.identity.source)
    steps = [
        "No certificate-selection prompt appears: the browser has nothing to offer, sends no "
        "certificate, and the server answers 'no certificate' (in Chrome: "
        "ERR_BAD_SSL_CLIENT_AUTH_CERT, or nginx's '400 No required SSL certificate was sent')."
    ]
    fixes = {
        Reason.NO_PRIVATE_KEY: "import the certificate together with its private key "
        f"(a PKCS#12 file): `pk12util -i bundle.p12 -d {db}`",
        Reason.EXPIRED: "get the certificate renewed and import the new one",
        Reason.NOT_YET_VALID: "wait until it becomes valid, or correct this computer's clock",
        Reason.NO_CLIENT_AUTH_USAGE: "ask the issuer for a certificate with the clientAuth "
        "extended key usage",
        Reason.ISSUER_NOT_ACCEPTED: "use a certificate issued under one of the CAs the server "
        f"lists ({'; '.join(view.ca_names)})",
        Reason.INTERMEDIATE_NOT_IN_STORE: f"or, if {_top_issuer(best.identity)} is an "
        "intermediate CA under one of them, import its certificate into the store: "
        f'`certutil -A -d {db} -n "issuing CA" -t ,, -i issuer.pem`',
    }
    reasons = best.reasons
    steps.append(
        f"Closest candidate: {best.identity.source} ({best.identity.certificate.subject}): "
        + "; ".join(fixes[r] for r in reasons)
        + "."
    )
    return tuple(steps)
