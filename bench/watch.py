"""Benchmark: ``watch`` at fleet scale.

1. Files: a directory of 10,000 generated client certificates (PEM, 100
   sub-directories) read by the inventory, in files per second; the peer in
   the same run is the floor: a bare ``cryptography`` loop that only parses
   each file and reads its notAfter.
2. Probes: 200 loopback TLS endpoints that require a client certificate
   (one nginx, worker_processes 1, one ``listen`` per port), probed
   concurrently by ``watch``'s pool; probes per second at several
   concurrency bounds; the peer is ``openssl s_client`` run sequentially
   on a sample of the same endpoints (one process per probe, as a shell loop
   over a fleet would).

Targets (issue 15): >= 5,000 files/s, >= 400 probes/s on 2 cores.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mtls_doctor.lab.pki import build_lab_pki
from mtls_doctor.tls.target import parse_target
from mtls_doctor.watch.gather import load_inventory, probe_all
from mtls_doctor.watch.sources import CertSource, Sources

FILES = 10_000
ENDPOINTS = 200
SAMPLE = 20


def generate(directory: Path, count: int) -> None:
    """``count`` client certificates from one CA (one shared leaf key: generation speed)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench Issuing CA")])
    now = datetime.now(UTC)
    for number in range(count):
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"c{number}")]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=1 + number % 700))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .sign(ca_key, hashes.SHA256())
        )
        folder = directory / f"{number % 100:02d}"
        folder.mkdir(exist_ok=True)
        (folder / f"client-{number}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def bench_files(directory: Path) -> None:
    generate(directory, FILES)
    started, cpu = time.perf_counter(), time.process_time()
    inventory = load_inventory(Sources(certs=(CertSource(path=str(directory)),)))
    ours, ours_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert len(inventory.identities) == FILES, (len(inventory.identities), inventory.problems[:3])
    files = sorted(p for p in directory.rglob("*.pem"))
    started, cpu = time.perf_counter(), time.process_time()
    for path in files:
        x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc  # noqa: B018
    floor, floor_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"files: {FILES} certificates in {len(list(directory.iterdir()))} directories")
    print(f"  watch inventory          {ours:6.2f} s  {FILES / ours:8.0f} files/s wall, "
          f"{FILES / ours_cpu:6.0f} per CPU-second  (target >= 5000)")  # fmt: skip
    print(f"  cryptography parse only  {floor:6.2f} s  {FILES / floor:8.0f} files/s wall, "
          f"{FILES / floor_cpu:6.0f} per CPU-second  (the floor)")  # fmt: skip


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_nginx(directory: Path, ports: list[int]) -> subprocess.Popen[bytes]:
    pki = build_lab_pki(directory / "lab")
    nginx = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin")
    if nginx is None:
        sys.exit("nginx is not installed (scripts/system-deps installs it)")
    listens = "\n".join(f"    listen 127.0.0.1:{port} ssl;" for port in ports)
    conf = directory / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
user root;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {directory}/body;
  server {{
{listens}
    ssl_certificate {pki.server_pem};
    ssl_certificate_key {pki.server_key_file};
    ssl_verify_client on;
    ssl_client_certificate {pki.client_ca_bundle};
    location / {{ return 200 "ok\\n"; }}
  }}
}}
"""
    )
    process = subprocess.Popen(
        [nginx, "-p", f"{directory}/", "-c", str(conf), "-e", f"{directory}/error.log",
         "-g", "daemon off;"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", ports[-1]), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit(f"nginx did not start: {(directory / 'error.log').read_text()}")


def bench_probes(directory: Path) -> None:
    ports = free_ports(ENDPOINTS)
    nginx = start_nginx(directory, ports)
    try:
        targets = [parse_target(f"127.0.0.1:{port}") for port in ports]
        now = datetime.now(UTC)
        probe_all(targets[:20], (), (), now=now, timeout=10, concurrency=8)  # warm-up
        print(f"probes: {ENDPOINTS} loopback endpoints (nginx, client certificate required), "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        for bound in (8, 32, 64):
            started, cpu = time.perf_counter(), time.process_time()
            views = probe_all(targets, (), (), now=now, timeout=10, concurrency=bound)
            took, took_cpu = time.perf_counter() - started, time.process_time() - cpu
            required = sum(1 for v in views if v.client_auth == "required")
            assert required == ENDPOINTS, [v.error for v in views if v.error][:3]
            print(f"  watch, concurrency {bound:3d}   {took:6.2f} s  {ENDPOINTS / took:7.0f} "
                  f"probes/s wall, {ENDPOINTS / took_cpu:5.0f} per client CPU-second "
                  "(target >= 400)")  # fmt: skip
        openssl = shutil.which("openssl")
        if openssl:
            started = time.perf_counter()
            for port in ports[:SAMPLE]:
                subprocess.run(
                    [openssl, "s_client", "-connect", f"127.0.0.1:{port}"],
                    input=b"", capture_output=True, timeout=10, check=False,
                )  # fmt: skip
            took = time.perf_counter() - started
            print(f"  openssl s_client, one by one  {SAMPLE / took:7.0f} probes/s "
                  f"({SAMPLE} sampled)")  # fmt: skip
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


def main() -> None:
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (wall figures shrink as it grows)")
    with tempfile.TemporaryDirectory(prefix="mtls-bench-watch-") as scratch:
        root = Path(scratch)
        (root / "certs").mkdir()
        bench_files(root / "certs")
        (root / "nginx").mkdir()
        bench_probes(root / "nginx")


if __name__ == "__main__":
    main()
