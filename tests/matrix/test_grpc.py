"""A gRPC server (grpcio: gRPC's C core with BoringSSL) with ``require_client_auth``.

gRPC speaks only HTTP/2 and resets any request that is not a gRPC call, so a
certificate it accepts gets RST_STREAM for ``check``'s GET, never a status:
the TLS layer's answer is the verdict. It lists no CA names, and when it
refuses a certificate it closes the connection without sending an alert, so
the chain failures cannot be told apart from the client side without the
server's bundle (``--ca-bundle``). Its log (GRPC_VERBOSITY=INFO) has
BoringSSL's reason for every refused handshake; a real gRPC call proves what
it accepts.
"""

from __future__ import annotations

import grpc
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from mtls_doctor import explain
from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.matrix.conftest import (
    CHAIN_TRIPLE,
    Truth,
    assert_agrees,
    assert_bundle_settles,
    cases,
    nameless,
)
from tests.servers.real import RunningServer, ServerRunner
from tests.servers.runtimes import start_grpc

pytestmark = pytest.mark.realserver

C = Cause
FAILED = r"Handshake failed with error SSL_ERROR_SSL: .*"
VERIFY = FAILED + r"CERTIFICATE_VERIFY_FAILED: "


def _served() -> Truth:
    """Accepted: no handshake failure logged (the tool's GET is reset, not served)."""
    return Truth(C.ACCEPTED, None, absent=r"Handshake failed")


TRUTH = {
    "good-ecdsa": _served(),
    "expired": Truth(C.CERTIFICATE_EXPIRED, VERIFY + r"certificate has expired"),
    "not-yet-valid": Truth(C.CERTIFICATE_NOT_YET_VALID, VERIFY + r"certificate is not yet valid"),
    "revoked": _served(),  # no CRL given
    "untrusted": nameless(C.UNTRUSTED_ISSUER, VERIFY),
    "rotated": nameless(C.ISSUER_ROTATED, VERIFY),
    "missing-intermediate": nameless(C.MISSING_INTERMEDIATE, VERIFY),
    "no-client-auth": Truth(C.WRONG_KEY_USAGE, VERIFY + r"unsupported certificate purpose"),
    # It cannot be presented: the connection made without it is refused.
    "mismatched-key": Truth(C.PRIVATE_KEY_MISMATCH, FAILED + r"PEER_DID_NOT_RETURN_A_CERTIFICATE"),
    "rsa-1024": _served(),
    None: Truth(C.NO_CERTIFICATE_SENT, FAILED + r"PEER_DID_NOT_RETURN_A_CERTIFICATE"),
}


@pytest.fixture(scope="module")
def grpc_server(module_servers: ServerRunner, matrix_lab: LabPKI) -> RunningServer:
    lab = matrix_lab
    return module_servers(
        start_grpc, cert=lab.server_pem, key=lab.server_key_file, ca_file=lab.client_ca_bundle
    )


@pytest.mark.parametrize(("identity", "truth"), cases(TRUTH))
def test_check_agrees_with_grpc(
    identity: str | None,
    truth: Truth,
    grpc_server: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = assert_agrees(capsys, grpc_server, matrix_lab, identity, truth)
    if truth.cause is C.ACCEPTED:
        said = result.json["handshake"]["application"]["said"]
        assert said.startswith("RST_STREAM"), result.json["handshake"]


@pytest.mark.parametrize("identity", CHAIN_TRIPLE)
def test_the_servers_bundle_settles_the_chain_cause(
    identity: str,
    grpc_server: RunningServer,
    matrix_lab: LabPKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_bundle_settles(capsys, grpc_server, matrix_lab, identity, TRUTH[identity])


@pytest.mark.parametrize(("identity", "accepted"), [("good-ecdsa", True), ("expired", False)])
def test_a_real_grpc_call_agrees(
    identity: str, accepted: bool, grpc_server: RunningServer, matrix_lab: LabPKI
) -> None:
    """The ground truth from gRPC's own client: the call succeeds exactly when check says so."""
    chosen = matrix_lab.identities[identity]
    key = chosen.key
    assert key is not None
    credentials = grpc.ssl_channel_credentials(
        root_certificates=matrix_lab.root.certificate.public_bytes(Encoding.PEM),
        private_key=key.read_bytes(),
        certificate_chain=chosen.pem.read_bytes(),  # leaf and chain (its key block is ignored)
    )
    options = [("grpc.ssl_target_name_override", "localhost")]
    with grpc.secure_channel(grpc_server.target, credentials, options=options) as channel:
        ping = channel.unary_unary("/lab.Echo/Ping")
        try:
            answer = ping(b"", timeout=10)
        except grpc.RpcError as exc:
            assert not accepted, exc
            assert exc.code() is grpc.StatusCode.UNAVAILABLE
            # What gRPC's client said, and what the server logged, through explain.
            said = explain(str(exc.details())).matches
            assert said and said[0].entry.id == "grpc.client_socket_closed", said
            logged = explain(grpc_server.error_log_text()).matches
            causes = {
                c for m in logged if m.entry.id == "grpc.handshake_verify_failed" for c in m.causes
            }
            assert Cause.CERTIFICATE_EXPIRED in causes, logged
        else:
            assert accepted and answer.startswith(b"pong ") and b"good-ecdsa" in answer
