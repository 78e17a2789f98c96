"""HTTP/2 servers that let the certificate in and then do not answer the GET.

A server that spoke HTTP/2 (its SETTINGS arrive once the handshake is done)
has accepted the certificate at the TLS layer, whatever it then does with the
request: a reset (gRPC does that to anything but a gRPC call) or silence is
no refusal of the certificate, and silence ends within ``--timeout``.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import h2.config
import h2.connection
import h2.errors
import h2.exceptions
import pytest

from mtls_doctor.lab.pki import LabPKI
from tests.cli import run_cli
from tests.servers.hostile import serve_loopback


@contextmanager
def h2_server(lab: LabPKI, after_settings: str) -> Iterator[int]:
    """TLS requiring a lab client certificate, ALPN h2, SETTINGS, then ``after_settings``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(lab.server_pem, lab.server_key_file)
    context.load_verify_locations(lab.client_ca_bundle)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    stop = threading.Event()

    def handle(raw: socket.socket) -> None:
        raw.settimeout(5)
        try:
            with context.wrap_socket(raw, server_side=True) as conn:
                h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
                h2conn.initiate_connection()
                conn.sendall(h2conn.data_to_send())
                h2conn.receive_data(conn.recv(65536))  # the client's preface and its GET
                if after_settings == "reset":
                    h2conn.reset_stream(1, h2.errors.ErrorCodes.REFUSED_STREAM)
                    conn.sendall(h2conn.data_to_send())
                if after_settings == "close":
                    conn.unwrap()  # close_notify: a clean end, no answer
                    return
                stop.wait(10)  # "silent" (and after the reset): say nothing more
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass

    with serve_loopback(handle, stop) as port:
        yield port


@pytest.mark.parametrize(
    ("after_settings", "said"),
    [
        ("reset", "RST_STREAM (REFUSED_STREAM)"),
        ("silent", "no answer to the GET in time"),
        ("close", "the connection closed"),
    ],
)
def test_a_server_that_spoke_http2_accepted_the_certificate(
    capsys: pytest.CaptureFixture[str], live_lab: LabPKI, after_settings: str, said: str
) -> None:
    with h2_server(live_lab, after_settings) as port:
        result = run_cli(
            capsys,
            "check",
            "--json",
            "--timeout",
            "3",
            f"https://127.0.0.1:{port}/",
            "--cert",
            str(live_lab.identities["good-ecdsa"].pem),
        )
    document = json.loads(result.out)
    assert (result.code, document["verdict"]["cause"]) == (0, "accepted"), document["verdict"]
    assert document["handshake"]["application"]["said"] == said
    assert document["handshakes"] == 1
