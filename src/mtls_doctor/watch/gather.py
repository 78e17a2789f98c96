"""Gather what a watch run needs: identities, issuing CAs, server configurations, probes.

Probes run concurrently in a bounded thread pool (each handshake waits on
the network, and pyOpenSSL releases the GIL while it does). Per server: one
probe without a certificate, then, for each issuing CA of which the
inventory holds a presentable identity, one handshake with that identity:
the only way to tell a rotated CA (same name, new key) from the old one when
all a server shows is the names it advertises.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from mtls_doctor.bundle import LoadedIdentity, PasswordSource, load_identities, no_password
from mtls_doctor.errors import InputError, NetworkError
from mtls_doctor.model import LoadProblem
from mtls_doctor.rules.answer import answer
from mtls_doctor.rules.probe import ClientAuth
from mtls_doctor.tls.target import Target, parse_target
from mtls_doctor.watch.drift import usage_of
from mtls_doctor.watch.facts import Handshake, IssuingCA, ServerView, Usage, WatchFacts
from mtls_doctor.watch.sources import Sources, password_for
from mtls_doctor.watch.trust import issued_by, issuing_cas

#: A fleet's certificate directory may be large; a whole disk by mistake is not.
MAX_INVENTORY_FILES = 200_000

#: ``progress(done, total)`` after each server.
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class Inventory:
    """Identities (with their keys, for settling handshakes) and unreadable files."""

    identities: list[LoadedIdentity] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)


def load_inventory(sources: Sources, fallback: PasswordSource = no_password) -> Inventory:
    """Every identity of every certificate source; unreadable files become problems."""
    inventory = Inventory()
    if sources.stores:
        load_stores(sources.stores, inventory)
    for source in sources.certs:
        try:
            result = load_identities(
                [source.path],
                password=password_for(source, fallback),
                max_files=MAX_INVENTORY_FILES,
            )
        except InputError as exc:  # a directory too large or empty
            problem = LoadProblem(path=source.path, code=exc.code, message=str(exc))
            inventory.problems.append(problem)
            continue
        inventory.identities.extend(result.identities)
        inventory.problems.extend(result.problems)
    return inventory


def load_stores(specs: Sequence[str], inventory: Inventory) -> None:
    """Identities of NSS databases (``nss``, ``nss:DIR``): certificates, no private keys."""
    from mtls_doctor.stores.nss import load_nss_identities

    for spec in specs:
        result = load_nss_identities(spec)
        inventory.identities.extend(result.identities)
        inventory.problems.extend(result.problems)


def load_issuing(paths: Sequence[str]) -> tuple[list[IssuingCA], list[x509.Certificate]]:
    """``--issuing-ca`` files (the CA first, then its own chain), and their certificates."""
    from mtls_doctor.serverconf.lint import load_issuing_ca
    from mtls_doctor.x509facts import cert_facts

    cas = []
    everything: list[x509.Certificate] = []
    for path in paths:
        loaded = load_issuing_ca(path)
        everything.extend(loaded)
        certs = [cert_facts(c) for c in loaded]
        first = certs[0]
        cas.append(
            IssuingCA(
                subject=first.subject,
                key_id=first.subject_key_id,
                certificate=first,
                chain=tuple(certs[1:]),
                explicit=True,
                source=path,
            )
        )
    return cas, everything


def config_views(sources: Sources, known_cas: Sequence[x509.Certificate]) -> list[ServerView]:
    """One view per TLS block of each configuration: what its client-CA bundle trusts.

    Each view carries the verified issuance graph of the block's trusted
    certificates and ``known_cas`` (the issuing CAs and their chains).
    """
    from mtls_doctor.graph import Source
    from mtls_doctor.graphbuild import GraphBuilder
    from mtls_doctor.rules.serverconf import advertised_names
    from mtls_doctor.serverconf.facts import ServerKind
    from mtls_doctor.serverconf.lint import parse_config
    from mtls_doctor.serverconf.material import MaterialLoader

    loader = MaterialLoader()
    views = []
    for source in sources.server_configs:
        kind = ServerKind(source.kind) if source.kind else None
        config = parse_config(source.path, kind=kind)
        for block in config.blocks:
            loaded = loader.load(block)
            builder = GraphBuilder()
            builder.add(known_cas, Source.CANDIDATE)
            builder.add(loaded.trusted, Source.SERVER_CA)
            views.append(
                ServerView(
                    name=f"{block.where} ({block.label})",
                    source="config",
                    client_auth=block.verify.client_auth,
                    advertised=advertised_names(block, loaded.material),
                    trusted=loaded.material.trusted,
                    graph=builder.graph(),
                    detail=f"{block.kind} {block.label}",
                )
            )
    return views


def targets(sources: Sources) -> list[Target]:
    """Parse every target first: a typo is exit 2 before any probe runs."""
    return [parse_target(s.target, sni=s.sni, connect_to=s.connect_to) for s in sources.servers]


def presentable(identity: LoadedIdentity, now: datetime) -> bool:
    """An identity a handshake can use and a server has no local reason to refuse."""
    cert = identity.facts.certificate
    return (
        identity.private_key is not None
        and identity.facts.key_matches is True
        and cert.not_before <= now <= cert.not_after
        and usage_of(cert) in (Usage.CLIENT, Usage.BOTH)
    )


def settle(
    target: Target,
    cas: Sequence[IssuingCA],
    identities: Sequence[LoadedIdentity],
    *,
    now: datetime,
    timeout: float,
) -> tuple[Handshake, ...]:
    """One handshake per CA that has a presentable identity in the inventory."""
    from mtls_doctor.rules.outcome import Outcome, outcome
    from mtls_doctor.tls.client import ClientIdentity, handshake

    made = []
    for index, ca in enumerate(cas):
        chosen = next(
            (i for i in identities if presentable(i, now) and issued_by(i.facts, ca)), None
        )
        if chosen is None:
            continue
        client = ClientIdentity(
            certificate=chosen.certificate,
            chain=chosen.issuing_path or chosen.chain,
            private_key=chosen.private_key,
        )
        try:
            facts = handshake(
                target,
                identity=client,
                timeout=timeout,
                # No failed login at every refresh where the login says nothing of the CA.
                log_in_as_certificate=target.spec.login_judges_certificate,
            )
        except NetworkError:
            continue  # the probe's verdict on reachability stands; nothing settled
        result = outcome(facts)
        made.append(
            Handshake(
                ca=index,
                identity=chosen.facts.source,
                accepted=result is not Outcome.REFUSED,
                evidence=answer(facts),
            )
        )
    return tuple(made)


def probe_one(
    target: Target,
    cas: Sequence[IssuingCA],
    identities: Sequence[LoadedIdentity],
    *,
    now: datetime,
    timeout: float,
) -> ServerView:
    """Probe one target, then settle what its advertised names cannot."""
    from mtls_doctor.probing import probe

    started = time.monotonic()
    try:
        report = probe(target, timeout=timeout)
    except NetworkError as exc:
        return ServerView(
            name=str(target),
            source="probe",
            client_auth=None,
            error=str(exc),
            duration=time.monotonic() - started,
        )
    duration = time.monotonic() - started
    client_auth = report.client_auth
    shakes: tuple[Handshake, ...] = ()
    if client_auth is not ClientAuth.NOT_REQUESTED:
        shakes = settle(target, cas, identities, now=now, timeout=timeout)
    return ServerView(
        name=str(target),
        source="probe",
        client_auth=client_auth,
        advertised=report.facts.acceptable_ca_names,
        duration=duration,
        handshakes=shakes,
        detail=target.url,
    )


def probe_all(
    parsed: Sequence[Target],
    cas: Sequence[IssuingCA],
    identities: Sequence[LoadedIdentity],
    *,
    now: datetime,
    timeout: float,
    concurrency: int,
    progress: Progress | None = None,
) -> list[ServerView]:
    """Probe every target, at most ``concurrency`` at once; results in target order."""
    if not parsed:
        return []
    views: list[ServerView | None] = [None] * len(parsed)
    with ThreadPoolExecutor(max_workers=min(concurrency, len(parsed))) as pool:
        futures = {
            pool.submit(probe_one, t, cas, identities, now=now, timeout=timeout): n
            for n, t in enumerate(parsed)
        }
        from concurrent.futures import as_completed

        for done, future in enumerate(as_completed(futures), start=1):
            views[futures[future]] = future.result()
            if progress is not None:
                progress(done, len(parsed))
    return [v for v in views if v is not None]


def gather(
    sources: Sources,
    *,
    now: datetime,
    password: PasswordSource = no_password,
    progress: Progress | None = None,
) -> WatchFacts:
    """Everything a watch report is made of."""
    parsed = targets(sources)
    explicit, known = load_issuing(sources.issuing_cas)
    inventory = load_inventory(sources, password)
    known.extend(c for i in inventory.identities for c in i.issuing_path)
    configs = config_views(sources, list(dict.fromkeys(known)))  # a fleet shares a few CAs
    facts = [i.facts for i in inventory.identities]
    cas = issuing_cas(facts, explicit)
    probed = probe_all(
        parsed,
        cas,
        inventory.identities,
        now=now,
        timeout=sources.timeout,
        concurrency=sources.concurrency,
        progress=progress,
    )
    return WatchFacts(
        now=now,
        identities=tuple(facts),
        issuing_cas=cas,
        servers=(*configs, *probed),
        problems=tuple(inventory.problems),
    )
