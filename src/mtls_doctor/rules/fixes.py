"""A verdict's fixes: the cause catalogue's, worded from the facts of one diagnosis.

The catalogue (``causes.py``) words each fix with placeholders; here they are
filled from what the run saw: the CA names the server listed, the
certificate's subject, and the target's protocol (a Redis or PostgreSQL user
gets that server's settings and client flags, and no browser or web-server
advice). A fix filled with nothing is dropped, and so is one naming a command
this build lacks.
"""

from __future__ import annotations

from dataclasses import replace

from mtls_doctor.advice import existing_fixes
from mtls_doctor.causes import (
    BROWSER_ONLY,
    CATALOGUE,
    NOT_OFFERED_WITHOUT_CA_NAMES,
    NOT_WEB_SERVER,
    WEB_SERVER_ONLY,
    Cause,
    fill,
)
from mtls_doctor.model import DiagnosisFacts, Verdict
from mtls_doctor.protocols import PROTOCOLS


def make_verdict(
    cause: Cause,
    detail: str = "",
    extra_fixes: tuple[str, ...] = (),
    *,
    server_fixes: tuple[str, ...] = (),
    title: str | None = None,
) -> Verdict:
    """The verdict for ``cause``: its title and ``detail``; the fixes by audience.

    ``extra_fixes`` go to the user, ``server_fixes`` to the server's owner,
    each before the catalogue's; a fix naming a command this build lacks is
    dropped. The catalogue's placeholders get their no-facts wording;
    :func:`fill_verdict` words them from the facts of a diagnosis.
    """
    info = CATALOGUE[cause]
    return fill_verdict(
        Verdict(cause=cause, summary=f"{title or info.title} {detail}".strip()),
        {},
        extra_user=extra_fixes,
        extra_server=server_fixes,
    )


def fill_verdict(
    verdict: Verdict,
    context: dict[str, str],
    *,
    extra_user: tuple[str, ...] | None = None,
    extra_server: tuple[str, ...] | None = None,
) -> Verdict:
    """``verdict`` with the catalogue's fixes for its cause worded from ``context``.

    The verdict's own extra fixes are kept: those before the catalogue's as
    :func:`make_verdict` worded them (without facts), whose count may differ
    from the count worded with facts (a fix worded empty is dropped).
    """
    user, server = _catalogue_fixes(verdict.cause, context)
    if extra_user is None or extra_server is None:
        plain_user, plain_server = _catalogue_fixes(verdict.cause, {})
        if extra_user is None:
            extra_user = verdict.user_fixes[: len(verdict.user_fixes) - len(plain_user)]
        if extra_server is None:
            extra_server = verdict.server_fixes[: len(verdict.server_fixes) - len(plain_server)]
    user = (*existing_fixes(extra_user), *user)
    server = (*existing_fixes(extra_server), *server)
    return replace(verdict, fixes=(*user, *server), user_fixes=user, server_fixes=server)


def _catalogue_fixes(
    cause: Cause, context: dict[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The catalogue's fixes for ``cause`` worded from ``context``: (user's, server's)."""
    info = CATALOGUE[cause]
    return (
        existing_fixes(tuple(fill(f, context) for f in info.user_fixes)),
        existing_fixes(tuple(fill(f, context) for f in info.server_fixes)),
    )


#: Protocols a browser may be the client of ("tls": not known, perhaps a web server).
BROWSER_PROTOCOLS = frozenset({"https", "tls"})


def fix_context(facts: DiagnosisFacts) -> dict[str, str]:
    """The facts the fixes quote: the CA names the server sent, the certificate's subject."""
    context: dict[str, str] = {}
    seen = facts.attempt or facts.without_certificate
    if seen is not None and seen.certificate_requested:
        names = seen.acceptable_ca_names
        if names:
            shown = "; ".join(names[:3]) + (
                f"; and {len(names) - 3} more" if len(names) > 3 else ""
            )
            context["accepted_cas"] = f" ({shown})"
            context["installed_but_not_offered"] = (
                "If you have one installed, check that its issuer is among the CA names the "
                f"server accepts ({shown}): browsers only offer matching certificates."
            )
        else:
            context["accepted_cas"] = (
                " (this server lists no CA names, so only its owner can say which CAs it "
                "accepts: ask them)"
            )
            context["installed_but_not_offered"] = NOT_OFFERED_WITHOUT_CA_NAMES
    if facts.protocol not in BROWSER_PROTOCOLS:
        # Neither a browser nor a web server (what lint-server reads) is involved.
        context.update(dict.fromkeys((*BROWSER_ONLY, *WEB_SERVER_ONLY), ""))
        context.update(NOT_WEB_SERVER)
    protocol = PROTOCOLS.get(facts.protocol)
    if protocol is not None:
        context["client_options"] = protocol.client_options
        if protocol.server_ca_setting is not None:
            context["server_ca_setting"] = protocol.server_ca_setting
    if facts.identity is not None:
        cert = facts.identity.certificate
        context["subject"] = f" ({cert.subject})"
        context["not_before"] = f" ({cert.not_before:%Y-%m-%d %H:%M} UTC)"
    return context
