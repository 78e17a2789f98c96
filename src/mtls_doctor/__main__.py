"""``python -m mtls_doctor``."""

from mtls_doctor.cli import main

raise SystemExit(main())
