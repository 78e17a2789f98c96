"""TLS alert descriptions (IANA TLS Alert Registry, RFC 8446 6 and RFC 5246 7.2).

The one home of alert numbers: the wire facts, the verdict rules and the
knowledge tests read :class:`TLSAlert` instead of bare numbers.
"""

from __future__ import annotations

from enum import IntEnum

from mtls_doctor.model import Alert


class TLSAlert(IntEnum):
    """A TLS alert description; ``str(alert.label)`` is its IANA name."""

    CLOSE_NOTIFY = 0
    UNEXPECTED_MESSAGE = 10
    BAD_RECORD_MAC = 20
    DECRYPTION_FAILED = 21
    RECORD_OVERFLOW = 22
    DECOMPRESSION_FAILURE = 30
    HANDSHAKE_FAILURE = 40
    NO_CERTIFICATE = 41
    BAD_CERTIFICATE = 42
    UNSUPPORTED_CERTIFICATE = 43
    CERTIFICATE_REVOKED = 44
    CERTIFICATE_EXPIRED = 45
    CERTIFICATE_UNKNOWN = 46
    ILLEGAL_PARAMETER = 47
    UNKNOWN_CA = 48
    ACCESS_DENIED = 49
    DECODE_ERROR = 50
    DECRYPT_ERROR = 51
    EXPORT_RESTRICTION = 60
    PROTOCOL_VERSION = 70
    INSUFFICIENT_SECURITY = 71
    INTERNAL_ERROR = 80
    INAPPROPRIATE_FALLBACK = 86
    USER_CANCELED = 90
    NO_RENEGOTIATION = 100
    MISSING_EXTENSION = 109
    UNSUPPORTED_EXTENSION = 110
    CERTIFICATE_UNOBTAINABLE = 111
    UNRECOGNIZED_NAME = 112
    BAD_CERTIFICATE_STATUS_RESPONSE = 113
    BAD_CERTIFICATE_HASH_VALUE = 114
    UNKNOWN_PSK_IDENTITY = 115
    CERTIFICATE_REQUIRED = 116
    NO_APPLICATION_PROTOCOL = 120
    ECH_REQUIRED = 121

    @property
    def label(self) -> str:
        """The IANA name, e.g. ``unknown_ca``."""
        return self.name.lower()


#: IANA name by code (the wire facts name alerts with it).
ALERT_NAMES: dict[int, str] = {member.value: member.label for member in TLSAlert}


def alert(code: int) -> Alert:
    """The alert for a description code, named."""
    return Alert(code=code, name=ALERT_NAMES.get(code, f"alert_{code}"))
