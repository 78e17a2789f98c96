"""TLS adapters: connect, handshake (with or without a client identity), observe."""
