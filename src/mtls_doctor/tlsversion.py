"""TLS versions: one vocabulary for ``--tls``, the handshake facts and the lab.

A module of its own (only :mod:`enum`) so the command line can name the
versions without loading the model or a TLS library.
"""

from __future__ import annotations

from enum import StrEnum


class TLSVersion(StrEnum):
    """A TLS version, valued as OpenSSL names it and the JSON shows it (``TLSv1.3``)."""

    TLS1_0 = "TLSv1"
    TLS1_1 = "TLSv1.1"
    TLS1_2 = "TLSv1.2"
    TLS1_3 = "TLSv1.3"

    @property
    def number(self) -> str:
        """What ``--tls`` takes: ``1.3``."""
        return "1.0" if self is TLSVersion.TLS1_0 else self.value.removeprefix("TLSv")

    @classmethod
    def named(cls, name: str | None) -> TLSVersion | None:
        """The version OpenSSL reports (``TLSv1.3``); None for ``Unknown`` or anything else."""
        return next((version for version in cls if version.value == name), None)


#: The versions a client may pin with ``--tls`` (older ones are only ever observed).
SELECTABLE = (TLSVersion.TLS1_2, TLSVersion.TLS1_3)


def selectable(text: str) -> TLSVersion:
    """``--tls 1.3`` → TLSVersion.TLS1_3 (argparse type; ValueError names the choices)."""
    for version in SELECTABLE:
        if text in (version.number, version.value):
            return version
    raise ValueError(f"{text!r} is not one of {', '.join(v.number for v in SELECTABLE)}")
