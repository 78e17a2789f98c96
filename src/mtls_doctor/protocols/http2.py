"""HTTP/2 after the handshake, when the server chose ``h2`` by ALPN (the ``h2`` library).

gRPC servers and many modern ones speak only HTTP/2: they are judged by
their HTTP/2 answer (the ``:status`` of one GET) like any HTTP server.

A server that spoke HTTP/2 (its SETTINGS come once the handshake is done)
and then reset our GET (RST_STREAM, GOAWAY) without a status let the
certificate through the TLS layer and refused only the request: gRPC
servers reset anything that is not a gRPC call. That is no refusal of the
certificate; a connection closed before any HTTP/2 frame still is.
"""

from __future__ import annotations

from mtls_doctor.errors import ConnectTimeout
from mtls_doctor.model import AppAnswer, HttpAnswer
from mtls_doctor.protocols.base import ConnectionEnded, Stream
from mtls_doctor.protocols.http import answer
from mtls_doctor.tls.target import Target

_MAX_BODY = 8192


def exchange(stream: Stream, target: Target) -> HttpAnswer | AppAnswer | None:
    """One GET over HTTP/2: the answer; what a reset says when there is no status (see
    the module's docstring); None when the server closed before any HTTP/2 frame."""
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()
    conn.send_headers(
        1,
        [
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", target.host_header),
            (":path", target.path),
            ("user-agent", "mtls-doctor"),
            ("accept", "*/*"),
        ],
        end_stream=True,
    )
    stream.send(conn.data_to_send())
    status: int | None = None
    headers: list[tuple[str, str]] = []
    body = b""
    done = False
    #: The server spoke HTTP/2; and how it ended our request without a status.
    spoke = False
    reset: str | None = None
    while not done:
        try:
            data = stream.recv()
        except (ConnectTimeout, ConnectionEnded) as exc:
            if status is not None:
                break
            if spoke and isinstance(exc, ConnectTimeout):
                # Its TLS layer let the certificate in; the application is just slow.
                return _reset_answer("no answer to the GET in time")
            raise
        if not data:
            reset = reset or "the connection closed"
            break
        for event in conn.receive_data(data):
            spoke = True
            if isinstance(event, h2.events.StreamReset) and event.stream_id == 1:
                reset = f"RST_STREAM ({_error_name(event.error_code)})"
            elif isinstance(event, h2.events.ConnectionTerminated):
                reset = f"GOAWAY ({_error_name(event.error_code)})"
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == 1:
                headers = [(str(k), str(v)) for k, v in event.headers]
                status = int(dict(headers).get(":status", "0"))
            elif isinstance(event, h2.events.DataReceived) and event.stream_id == 1:
                body += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, 1)
                done = len(body) >= _MAX_BODY or b"\n" in body.strip()
            elif isinstance(event, h2.events.TrailersReceived):
                headers += [(str(k), str(v)) for k, v in event.headers]
            elif isinstance(
                event,
                h2.events.StreamEnded | h2.events.StreamReset | h2.events.ConnectionTerminated,
            ):
                done = True
        pending = conn.data_to_send()
        if pending and not done:
            stream.send(pending)
    if status is None:
        return _reset_answer(reset) if spoke and reset is not None else None
    fields = dict(headers)
    text = "\n".join(f"{k}: {v}" for k, v in headers if not k.startswith(":"))
    return answer(status, "", text, body[:_MAX_BODY], fields.get("server"), version="HTTP/2")


def _error_name(code: object) -> str:
    """``INTERNAL_ERROR`` for an HTTP/2 error code (RFC 9113 7), else the number."""
    return str(getattr(code, "name", code))


def _reset_answer(how: str) -> AppAnswer:
    """The server spoke HTTP/2, then ended our GET without a status."""
    return AppAnswer(
        protocol="h2",
        accepted=None,
        said=how,
        meaning="the server spoke HTTP/2 after the handshake, so its TLS layer let the "
        f"certificate through, then left this GET without a status ({how}); HTTP/2-only "
        "services do that to requests that are not theirs (a gRPC server resets anything but "
        "a gRPC call), so only the TLS layer's answer is known",
    )
