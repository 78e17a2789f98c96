"""HTTP/2 after the handshake, when the server chose ``h2`` by ALPN (the ``h2`` library).

gRPC servers and many modern ones speak only HTTP/2: they are judged by
their HTTP/2 answer (the ``:status`` of one GET) like any HTTP server.
A GOAWAY or RST_STREAM before any answer is a refusal without a status.
"""

from __future__ import annotations

from mtls_doctor.errors import ConnectTimeout
from mtls_doctor.model import HttpAnswer
from mtls_doctor.protocols.base import ConnectionEnded, Stream
from mtls_doctor.protocols.http import answer
from mtls_doctor.tls.target import Target

_MAX_BODY = 8192


def exchange(stream: Stream, target: Target) -> HttpAnswer | None:
    """One GET over HTTP/2; None when the server ended the connection without a status."""
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
    while not done:
        try:
            data = stream.recv()
        except (ConnectTimeout, ConnectionEnded):
            if status is not None:
                break
            raise
        if not data:
            break
        for event in conn.receive_data(data):
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
        return None
    fields = dict(headers)
    text = "\n".join(f"{k}: {v}" for k, v in headers if not k.startswith(":"))
    return answer(status, "", text, body[:_MAX_BODY], fields.get("server"), version="HTTP/2")
