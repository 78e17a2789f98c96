"""Options shared by several commands, and what they turn into."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mtls_doctor.errors import UsageError

if TYPE_CHECKING:
    from mtls_doctor.files import FileReadError
    from mtls_doctor.tls.target import Target

PasswordSource = Callable[[str], "bytes | None"]
#: A password file holds one line; anything this large is the wrong file.
PASSWORD_FILE_MAX_BYTES = 64 * 1024
#: A hundred years: beyond it a date computation overflows (and no certificate lives so long).
MAX_WARN_DAYS = 36500


_PASSWORD_HOWTO = (
    "a password is never taken on the command line (it would stay in the shell history "
    "and the process list); use --password-env VAR, --password-file FILE or the prompt"
)


def local_path(text: str) -> str:
    """An argparse ``type`` for local file paths that refuses curl's ``FILE:PASSWORD``.

    A path that does not exist but contains ``:`` may carry a password after the
    colon (curl's habit): the error names only what comes before the first colon,
    so the secret is never echoed.
    """
    if ":" in text and not os.path.lexists(text):
        head = text.split(":", 1)[0]
        if os.path.isfile(head):
            raise argparse.ArgumentTypeError(
                f"{head}: curl's FILE:PASSWORD form is not accepted (the text after ':' is "
                f"not shown); {_PASSWORD_HOWTO}"
            )
        raise argparse.ArgumentTypeError(
            f"{head}...: no such file (the text after ':' is not shown, in case it is a password)"
        )
    if text != "-" and not looks_like_path(text) and not os.path.lexists(text):
        # A bare word that names nothing may be a password typed in the wrong place.
        raise argparse.ArgumentTypeError(
            "the path given does not exist (not shown: it may be a secret)"
        )
    return text


def looks_like_path(text: str) -> bool:
    """Whether ``text`` has a path separator or a dot-extension (``ca.pem``), so that
    echoing it cannot leak a password typed where a path goes."""
    seps = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    if any(sep in text for sep in seps):
        return True
    stem, dot, extension = text.rpartition(".")
    return bool(dot and stem and extension.isalnum() and len(extension) <= 5)


class _RefusePassword(argparse.Action):
    """``--password SECRET``: refused without echoing SECRET (argparse would print it)."""

    def __call__(self, *_args: object, **_kwargs: object) -> None:
        raise UsageError(_PASSWORD_HOWTO)


def add_password_arguments(parser: argparse.ArgumentParser) -> None:
    """--password-file / --password-env (a password is never taken on the command line)."""
    parser.add_argument(
        "--password", "--pass", nargs="?", action=_RefusePassword, help=argparse.SUPPRESS
    )
    group = parser.add_argument_group("passwords (never on the command line)")
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the PKCS#12 / key password from the first line of FILE",
    )
    exclusive.add_argument(
        "--password-env", metavar="VAR", help="read the password from environment variable VAR"
    )


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """--store nss[:DIR] (repeatable): identities in NSS databases, as browsers see them."""
    parser.add_argument(
        "--store",
        action="append",
        default=[],
        metavar="nss[:DIR]",
        help="an NSS database: nss = ~/.pki/nssdb (Chromium/Chrome) and every Firefox "
        "profile; nss:DIR = that database (repeatable)",
    )


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """--timeout, --sni, --connect-to (CONTRACT.md, targets)."""
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="bound every network step (default 10)",
    )
    parser.add_argument("--sni", metavar="NAME", help="server name to send (default: the host)")
    parser.add_argument(
        "--connect-to",
        "--resolve",
        dest="connect_to",
        metavar="IP",
        help="connect to this address instead of resolving the host name",
    )
    parser.add_argument(
        "--protocol",
        metavar="NAME",
        help="what to speak after the handshake on a host:port target: https, tls (nothing), "
        "redis, mqtt, postgres, mysql, smtp, smtps, imap, imaps, pop3s, ldap, ldaps "
        "(default: by the URL scheme or the well-known port)",
    )


def add_tls_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """--tls 1.2|1.3: pin the TLS version."""
    from mtls_doctor.tlsversion import SELECTABLE, selectable

    numbers = ",".join(version.number for version in SELECTABLE)

    def tls_version(text: str) -> object:
        try:
            return selectable(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    parser.add_argument("--tls", type=tls_version, metavar=f"{{{numbers}}}", help=help_text)


def target_of(args: argparse.Namespace) -> Target:
    """The command's TARGET with the network options that shape it (add_network_arguments)."""
    from mtls_doctor.tls.target import parse_target

    return parse_target(
        args.target, sni=args.sni, connect_to=args.connect_to, protocol=args.protocol
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return value


def warn_days(text: str) -> int:
    """--warn-days: a whole number of days a calendar can hold (0 to 36500)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from exc
    if not 0 <= value <= MAX_WARN_DAYS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_WARN_DAYS} days")
    return value


def password_source(args: argparse.Namespace) -> PasswordSource:
    """The password source the options describe; the secret is read only when needed."""
    cache: dict[str, bytes | None] = {}

    def from_file(_path: str) -> bytes | None:
        if "file" not in cache:
            from mtls_doctor.files import FileReadError, read_regular_file

            try:
                data = read_regular_file(
                    args.password_file, limit=PASSWORD_FILE_MAX_BYTES, what="password file"
                )
            except FileReadError as exc:
                # Never echo the value: a password is sometimes typed here by mistake.
                raise UsageError(
                    f"--password-file: {_unnamed(exc)} (or use --password-env VAR)"
                ) from None
            cache["file"] = data.split(b"\n", 1)[0].rstrip(b"\r")
        return cache["file"]

    def from_env(_path: str) -> bytes | None:
        value = os.environ.get(args.password_env)
        if value is None:
            raise UsageError(
                "the environment variable named by --password-env is not set "
                "(its name is not shown: it may be a secret)"
            )
        return value.encode()

    def from_prompt(path: str) -> bytes | None:
        if path not in cache:
            import getpass

            try:
                cache[path] = getpass.getpass(f"Password for {path}: ").encode()
            except (EOFError, OSError):
                cache[path] = None
        return cache[path]

    if getattr(args, "password_file", None):
        return from_file
    if getattr(args, "password_env", None):
        return from_env
    if sys.stdin is not None and sys.stdin.isatty():
        return from_prompt
    return lambda _path: None


def _unnamed(exc: FileReadError) -> str:
    """A password-file error that does not name the file (the name may be a password)."""
    from mtls_doctor.files import FileFault

    if exc.kind is FileFault.MISSING:
        return "the file given to --password-file does not exist (its name is not shown)"
    return f"the file given to --password-file: {exc.reason}"


def add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    """-v: the long lists that text output leaves out (JSON always has them)."""
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="text: show every fact (JSON has them all)"
    )


def add_time_argument(parser: argparse.ArgumentParser) -> None:
    """--at: evaluate validity as of another moment ("will it still work on the 1st?")."""
    parser.add_argument(
        "--at",
        type=_moment,
        metavar="DATETIME",
        help="evaluate validity at this ISO 8601 time instead of now (UTC if no zone)",
    )


def _moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date/time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)
