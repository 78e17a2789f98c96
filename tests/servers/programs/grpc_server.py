"""A gRPC server (grpcio: gRPC's C core with BoringSSL) that requires a client certificate.

Usage: grpc_server.py PORT CERT KEY CA_FILE. It serves one method,
``/lab.Echo/Ping``, which answers ``pong`` and the client's certificate subject;
run with GRPC_VERBOSITY=INFO, gRPC logs each failed handshake with BoringSSL's
reason ("Handshake failed with error SSL_ERROR_SSL: ... certificate has expired").
"""

import sys
from concurrent import futures

import grpc


def ping(request: bytes, context: grpc.ServicerContext) -> bytes:
    subject = context.auth_context().get("x509_subject", [b"?"])[0]
    print(f"served: {subject.decode()}", flush=True)
    return b"pong " + subject


def main() -> None:
    port, cert, key, ca_file = sys.argv[1:5]
    with open(cert, "rb") as c, open(key, "rb") as k, open(ca_file, "rb") as a:
        credentials = grpc.ssl_server_credentials(
            [(k.read(), c.read())], root_certificates=a.read(), require_client_auth=True
        )
    handler = grpc.method_handlers_generic_handler(
        "lab.Echo", {"Ping": grpc.unary_unary_rpc_method_handler(ping)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    server.add_secure_port(f"127.0.0.1:{port}", credentials)
    server.start()
    print(f"listening on {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
