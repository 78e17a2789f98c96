"""Reading a server configuration file: through the one bounded reader, errors at file:line.

A configuration names other files (``include``, ``Include``), and those are
as untrusted as the first: each goes through
:func:`mtls_doctor.files.read_regular_file` (regular files only, bounded), and
a failure is reported where the file was named.
"""

from __future__ import annotations

import os

from mtls_doctor.errors import ConfigParseError
from mtls_doctor.files import FileReadError, read_regular_text
from mtls_doctor.serverconf.facts import Where

#: Real configurations are kilobytes; generated ones with 100,000 server blocks
#: are tens of MiB. Beyond this a file is not a configuration.
CONFIG_MAX_BYTES = 64 * 1024 * 1024


def read_config_text(path: str | os.PathLike[str], at: Where | None = None) -> str:
    """The text of a configuration file; ``at`` is the directive that named it, if any.

    Raises :class:`ConfigParseError` at ``at`` (or at the file itself) when it
    cannot be read, is not a regular file or is larger than ``CONFIG_MAX_BYTES``.
    """
    name = os.fspath(path)
    try:
        return read_regular_text(path, limit=CONFIG_MAX_BYTES, what="configuration file")
    except FileReadError as exc:
        if at is None:
            raise ConfigParseError(name, None, exc.reason) from None
        raise ConfigParseError(at.file, at.line, f"cannot read {name}: {exc.reason}") from None
