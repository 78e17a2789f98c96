"""Prometheus rendering of a watch report: metric families, decided by nothing but the report.

Names and labels of the per-certificate metrics follow x509-certificate-exporter
(``x509_cert_not_after``, ``x509_cert_not_before``, ``x509_cert_expired``,
``x509_read_errors``; ``filepath``, ``filename``, ``serial_number``,
``subject_*`` / ``issuer_*`` per RDN), so its dashboards and alerts work;
``usage``, ``subject_key_id`` and ``authority_key_id`` are added. The
``mtls_*`` metrics say what no file exporter can: whether a server asks for a
client certificate and whether it accepts each issuing CA.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from mtls_doctor.rules.probe import ClientAuth
from mtls_doctor.watch.facts import Acceptance, WatchReport

#: The RDNs x509-certificate-exporter turns into labels, by label suffix.
_RDNS = {
    "C": NameOID.COUNTRY_NAME,
    "CN": NameOID.COMMON_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
}
CERT_LABELS = (
    "filename",
    "filepath",
    "serial_number",
    *(f"subject_{k}" for k in _RDNS),
    *(f"issuer_{k}" for k in _RDNS),
    "usage",
    "subject_key_id",
    "authority_key_id",
)
#: ``mtls_server_client_auth`` values.
CLIENT_AUTH_VALUES = {ClientAuth.NOT_REQUESTED: 0, ClientAuth.OPTIONAL: 1, ClientAuth.REQUIRED: 2}


@lru_cache(maxsize=4096)
def _rdns(name: str) -> tuple[str, ...]:
    """One value per RDN of ``_RDNS`` (joined with "," when repeated; "" when absent)."""
    try:
        parsed = x509.Name.from_rfc4514_string(name)
    except ValueError:
        return ("",) * len(_RDNS)
    return tuple(
        ",".join(str(a.value) for a in parsed.get_attributes_for_oid(oid)) for oid in _RDNS.values()
    )


def _gauge(name: str, text: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, labels=list(labels))


def certificate_families(report: WatchReport) -> Iterator[Metric]:
    """x509-certificate-exporter-compatible metrics, one series per identity."""
    not_after = _gauge("x509_cert_not_after", "Certificate expiry, Unix time", CERT_LABELS)
    not_before = _gauge("x509_cert_not_before", "Certificate start, Unix time", CERT_LABELS)
    expired = _gauge("x509_cert_expired", "1 when the certificate has expired", CERT_LABELS)
    now = report.facts.now
    for status in report.identities:
        cert = status.identity.certificate
        filepath = status.identity.source.split("#", 1)[0]
        labels = [
            Path(filepath).name,
            filepath,
            cert.serial,
            *_rdns(cert.subject),
            *_rdns(cert.issuer),
            str(status.usage),
            cert.subject_key_id or "",
            cert.authority_key_id or "",
        ]
        not_after.add_metric(labels, cert.not_after.timestamp())
        not_before.add_metric(labels, cert.not_before.timestamp())
        expired.add_metric(labels, 1.0 if now > cert.not_after else 0.0)
    yield from (not_after, not_before, expired)
    errors = _gauge("x509_read_errors", "Files that could not be read or parsed")
    errors.add_metric([], float(len(report.facts.problems)))
    yield errors


def server_families(report: WatchReport) -> Iterator[Metric]:
    """Client auth, issuing-CA acceptance and probe results per server."""
    facts = report.facts
    client_auth = _gauge(
        "mtls_server_client_auth",
        "Client certificates: 0 not requested, 1 optional, 2 required",
        ("target", "source"),
    )
    accepts = _gauge(
        "mtls_server_accepts_issuer",
        "1 when the server accepts certificates of the issuing CA, 0 when it does not",
        ("target", "issuer", "issuer_key_id", "evidence"),
    )
    success = _gauge(
        "mtls_probe_success", "1 when the probe completed a TLS handshake", ("target",)
    )
    duration = _gauge("mtls_probe_duration_seconds", "Seconds the probe took", ("target",))
    undecided = (Acceptance.UNKNOWN, Acceptance.NOT_REQUESTED, Acceptance.UNREACHABLE)
    for j, server in enumerate(facts.servers):
        if server.client_auth is not None:
            client_auth.add_metric(
                [server.name, server.source], float(CLIENT_AUTH_VALUES[server.client_auth])
            )
        for i, ca in enumerate(facts.issuing_cas):
            state = report.matrix[(i, j)]
            if state in undecided:
                continue
            accepts.add_metric(
                [server.name, ca.subject, ca.key_id or "", str(state)],
                1.0 if state.accepted else 0.0,
            )
        if server.source == "probe":
            success.add_metric([server.name], 0.0 if server.error else 1.0)
            duration.add_metric([server.name], server.duration or 0.0)
    yield from (client_auth, accepts, success, duration)
    drift = _gauge("mtls_drift_findings", "Drift findings by severity", ("severity",))
    for severity in ("error", "warning", "info"):
        count = sum(1 for d in report.drift if d.finding.severity == severity)
        drift.add_metric([severity], float(count))
    yield drift


def exporter_families(
    refreshed_at: float, refresh_seconds: float, refresh_errors: int
) -> Iterator[Metric]:
    """The exporter's own health: when the cache was last refreshed, and failures."""
    last = _gauge(
        "mtls_exporter_last_refresh_timestamp_seconds", "When the cache was last refreshed"
    )
    last.add_metric([], refreshed_at)
    took = _gauge("mtls_exporter_refresh_duration_seconds", "How long the last refresh took")
    took.add_metric([], refresh_seconds)
    failed = CounterMetricFamily(
        "mtls_exporter_refresh_errors", "Refreshes that failed (the previous data is kept)"
    )
    failed.add_metric([], float(refresh_errors))
    yield from (last, took, failed)
