"""The closed vocabularies of a knowledge entry: whose certificate, who wrote it, what to derive.

Kept apart from the matcher so renderers can name a scope without loading it.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """Whose certificate a message is about (the JSON ``scope``)."""

    CLIENT_CERTIFICATE = "client_certificate"
    SERVER_CERTIFICATE = "server_certificate"
    #: The same words are printed on both sides; a writer rule may settle which.
    EITHER = "either"
    #: Not about a certificate at all.
    PROTOCOL = "protocol"

    def other_side(self) -> Scope:
        """The other party's certificate."""
        if self is Scope.SERVER_CERTIFICATE:
            return Scope.CLIENT_CERTIFICATE
        return Scope.SERVER_CERTIFICATE


class Writer(StrEnum):
    """Which side of a connection printed a line."""

    CLIENT = "client"
    SERVER = "server"


class Derive(StrEnum):
    """What an entry reads from the line itself."""

    ALERT = "alert"
    VERIFY = "verify"
