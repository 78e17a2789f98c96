"""Alert knowledge lives in three places with three jobs; they must not contradict.

``tls.alerts`` names alerts for the wire facts, ``rules.verdict.ALERT_HINTS``
says which local causes an alert can confirm, and ``knowledge/alerts.toml``
explains pasted messages. A hint the explainer would not list is a bug in one.
"""

from __future__ import annotations

from mtls_doctor.knowledge import load_knowledge
from mtls_doctor.rules.verdict import ALERT_HINTS
from mtls_doctor.tls.alerts import ALERT_NAMES


def test_alert_names_agree() -> None:
    known = load_knowledge().alerts
    for code, alert in known.items():
        assert ALERT_NAMES.get(code) == alert.name, code


def test_verdict_hints_are_causes_the_explainer_also_names() -> None:
    known = load_knowledge().alerts
    for code, hints in ALERT_HINTS.items():
        assert set(hints) <= set(known[code].causes), code
