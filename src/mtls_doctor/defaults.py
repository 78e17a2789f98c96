"""Defaults several commands share, in one place (no imports: cheap for ``--help``)."""

#: Warn this many days before a certificate (client or CA) expires.
DEFAULT_WARN_DAYS = 30
