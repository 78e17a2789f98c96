"""The one exception tree of mtls-doctor.

Adapters raise only these; foreign exceptions (OSError, ValueError from
cryptography, OpenSSL.SSL.Error, ...) are translated at the adapter boundary
with ``raise X(...) from exc``. The CLI maps the three branches to the
contract's exit codes::

    MtlsDoctorError
    ├─ UsageError                      bad flags or paths          → exit 2
    ├─ InputError                      bad input                   → exit 2
    │  ├─ BundleLoadError(path)         corrupt, truncated, unknown format, too large
    │  ├─ PasswordError(path)           needed / wrong
    │  └─ ConfigParseError(path, line)  a server configuration we cannot read
    └─ NetworkError                    → exit 3
       ├─ ConnectError                  no TCP connection
       ├─ ConnectTimeout                a step took longer than --timeout
       ├─ NotTLSError                   the peer does not speak TLS
       ├─ HandshakeError                TLS refused before client auth was reached
       └─ FetchError(url)               an AIA / CRL / OCSP download failed
          └─ RevocationFetchError(url)  recorded as a fact inside a diagnosis, not fatal

Every message is one line that says what is wrong and what to do. No message
ever contains a password or private key material.
"""

from __future__ import annotations


class MtlsDoctorError(Exception):
    """Base of every error mtls-doctor raises on purpose."""

    #: Short machine code used in ``{"error": {"code": ...}}``.
    code = "error"
    #: Process exit code per CONTRACT.md.
    exit_code = 1


class UsageError(MtlsDoctorError):
    """Bad flags, a missing path, options that do not go together."""

    code = "usage"
    exit_code = 2


class InputError(MtlsDoctorError):
    """Input that cannot be used: a corrupt file, a wrong password."""

    code = "input"
    exit_code = 2

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            #: A more specific machine code (``password_needed``, ``unsupported_config``...).
            self.code = code


class BundleLoadError(InputError):
    """A certificate/key file is unreadable, corrupt, truncated or of unknown format."""

    code = "bundle_load"

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class PasswordError(InputError):
    """A password is needed but none was given, or the one given is wrong."""

    code = "password"

    def __init__(self, path: str, reason: str, *, needed: bool) -> None:
        self.path = path
        #: True when no password was given, False when the given one is wrong.
        self.needed = needed
        self.code = "password_needed" if needed else "wrong_password"
        super().__init__(f"{path}: {reason}")


class ConfigParseError(InputError):
    """A server configuration file that cannot be read or parsed."""

    code = "config_parse"

    def __init__(
        self, path: str, line: int | None, reason: str, *, code: str | None = None
    ) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}", code=code)


class NetworkError(MtlsDoctorError):
    """The target could not be reached or did not speak TLS."""

    code = "network"
    exit_code = 3


class ConnectError(NetworkError):
    """No TCP connection (refused, unreachable, name does not resolve)."""

    code = "unreachable"


class ConnectTimeout(NetworkError):  # noqa: N818 (the name httpx users know)
    """A network step took longer than --timeout."""

    code = "timeout"


class NotTLSError(NetworkError):
    """The port answered, but not with TLS (plain HTTP, SSH, garbage, silence then close)."""

    code = "not_tls"


class HandshakeError(NetworkError):
    """The server refused the handshake before client authentication (version, ciphers)."""

    code = "handshake_failed"


class FetchError(NetworkError):
    """An HTTP download (AIA caIssuers, CRL, OCSP) failed; recorded as a fact."""

    code = "fetch"

    def __init__(self, url: str, reason: str, *, status: int | None = None) -> None:
        self.url = url
        self.reason = reason
        #: The HTTP status when the server answered with an error status.
        self.status = status
        super().__init__(f"{url}: {reason}")


class RevocationFetchError(FetchError):
    """A CRL or OCSP lookup failed; recorded as a fact, never fatal to a diagnosis."""

    code = "revocation_fetch"
