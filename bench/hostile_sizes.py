"""Benchmark: the input sizes an adversarial review used, each of which must stay linear.

- a megabyte of ``-----BEGIN CERTIFICATE-----`` lines (PEM scanning);
- 10,000 certificates in one PEM file (leaf detection);
- 1,000 certificates with the same name and different keys (leaf detection);
- lint-server on an nginx configuration of 10,000 and 100,000 server blocks;
- lint-server on a lighttpd configuration of 1,000 and 10,000 ``$SERVER["socket"]``
  blocks (the peer is ``lighttpd -p``, lighttpd's own parser in its own process;
  lighttpd 1.4.69 aborts on 10,000 conditionals).

Each case runs in its own process (so a quadratic version can be stopped at
``--limit`` seconds) against the ``src`` tree given (default: this checkout),
beside a peer in the same run: cryptography's own PEM loader for the PEM
cases, crossplane's parse alone for lint-server. Compare two trees with
``--src /path/to/old/src``. Figures are wall seconds of the measured call only
(files are made before the clock starts).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent

MAKE = textwrap.dedent(
    """
    import datetime, sys
    from pathlib import Path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    out = Path(sys.argv[1])
    now = datetime.datetime.now(datetime.timezone.utc)
    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    def cert(subject, issuer, key, signer, ca=False):
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        return b.sign(signer, hashes.SHA256())
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)

    (out / "begin-lines.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\\n" * (1024 * 1024 // 28))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert(name("Bench CA"), name("Bench CA"), ca_key, ca_key, ca=True)
    leaves = []
    for i in range(10_000):
        k = ec.generate_private_key(ec.SECP256R1())
        leaves.append(pem(cert(name(f"user{i}"), ca.subject, k, ca_key)))
    (out / "10000-certs.pem").write_bytes(pem(ca) + b"".join(leaves))
    same = []
    for i in range(1_000):
        k = ec.generate_private_key(ec.SECP256R1())
        same.append(pem(cert(name("Same Name"), name("Same Name"), k, k, ca=True)))
    (out / "1000-same-name.pem").write_bytes(b"".join(same))
    (out / "ca.pem").write_bytes(pem(ca))
    ca_path = str(out / "ca.pem")
    for count in (10_000, 100_000):
        block = (
            "  server {{\\n    listen {port} ssl;\\n    server_name s{n}.example;\\n"
            "    ssl_certificate /etc/x.pem;\\n    ssl_certificate_key /etc/x.key;\\n"
            "    ssl_verify_client on;\\n    ssl_client_certificate " + ca_path + ";\\n  }}\\n"
        )
        text = "events {}\\nhttp {\\n" + "".join(
            block.format(port=1024 + n % 60000, n=n) for n in range(count)) + "}\\n"
        (out / f"nginx-{count}.conf").write_text(text)
    for count in (1_000, 10_000):
        block = (
            '$SERVER["socket"] == "127.0.0.1:{port}" {{\\n  ssl.engine = "enable"\\n'
            '  ssl.ca-file = "' + ca_path + '"\\n  ssl.verifyclient.activate = "enable"\\n}}\\n'
        )
        text = 'server.modules = ("mod_openssl")\\nserver.document-root = "/tmp"\\n' + "".join(
            block.format(port=1024 + n % 60000) for n in range(count))
        (out / f"lighttpd-{count}.conf").write_text(text)
    """
)

_BUNDLE = "from mtls_doctor.bundle import load_identities"
_X509 = "from cryptography import x509"
_LINT = "from mtls_doctor.serverconf.lint import lint_server"
_PLANE = "import crossplane"


def _pem_peer(name: str) -> str:
    return (
        f"try:\n    x509.load_pem_x509_certificates((F / '{name}').read_bytes())\n"
        "except ValueError:\n    pass"
    )


_RUN = "import subprocess"


def _lighttpd_p(name: str) -> str:
    return (
        f"done = subprocess.run(['lighttpd', '-p', '-f', str(F / '{name}')], capture_output=True)\n"
        "assert done.returncode == 0, done.stderr.decode()[-80:]"
    )


def _plane(name: str) -> str:
    return f"crossplane.parse(str(F / '{name}'), single=True, check_ctx=False, check_args=False)"


#: title -> ((setup, measured) for mtls-doctor, (setup, measured) for the peer)
CASES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "PEM scan: 1 MiB of BEGIN lines": (
        (_BUNDLE, "load_identities([F / 'begin-lines.pem'])"),
        (_X509, _pem_peer("begin-lines.pem")),
    ),
    "leaf detection: 10,000 certificates in one PEM": (
        (_BUNDLE, "load_identities([F / '10000-certs.pem'])"),
        (_X509, _pem_peer("10000-certs.pem")),
    ),
    "leaf detection: 1,000 same-name certificates, other keys": (
        (_BUNDLE, "load_identities([F / '1000-same-name.pem'])"),
        (_X509, _pem_peer("1000-same-name.pem")),
    ),
    "lint-server: 10,000 server blocks": (
        (_LINT, "lint_server([str(F / 'nginx-10000.conf')])"),
        (_PLANE, _plane("nginx-10000.conf")),
    ),
    "lint-server: 100,000 server blocks": (
        (_LINT, "lint_server([str(F / 'nginx-100000.conf')])"),
        (_PLANE, _plane("nginx-100000.conf")),
    ),
    "lint-server: lighttpd, 1,000 socket blocks": (
        (_LINT, "lint_server([str(F / 'lighttpd-1000.conf')])"),
        (_RUN, _lighttpd_p("lighttpd-1000.conf")),
    ),
    "lint-server: lighttpd, 10,000 socket blocks": (
        (_LINT, "lint_server([str(F / 'lighttpd-10000.conf')])"),
        (_RUN, _lighttpd_p("lighttpd-10000.conf")),
    ),
}

TIMER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    F = Path(sys.argv[1])
    exec(sys.argv[2])
    started = time.perf_counter()
    exec(sys.argv[3])
    print(f"{time.perf_counter() - started:.3f}")
    """
)


def timed(files: Path, code: tuple[str, str], src: Path, limit: float) -> str:
    """Seconds taken by ``code`` (setup, measured) in a fresh process on ``src``, or when killed."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", TIMER, str(files), *code],
            capture_output=True,
            text=True,
            timeout=limit,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return f"killed at {limit:g} s"
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1][:80]
    return f"{float(done.stdout.strip()):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=HERE.parent / "src")
    parser.add_argument(
        "--limit", type=float, default=120.0, help="seconds before a case is killed"
    )
    parser.add_argument("--only", help="run only the cases whose title contains this text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mtls-bench-sizes-") as scratch:
        files = Path(scratch)
        print("making the inputs ...", flush=True)
        subprocess.run([sys.executable, "-c", MAKE, str(files)], check=True)
        print(f"src: {args.src}")
        for title, (ours, peer) in CASES.items():
            if args.only and args.only not in title:
                continue
            mine = timed(files, ours, args.src, args.limit)
            theirs = timed(files, peer, args.src, args.limit)
            print(f"  {title:<62} mtls-doctor {mine:>18}   peer {theirs:>10}", flush=True)


if __name__ == "__main__":
    main()
