"""The ``lint-server`` JSON document: CONTRACT.md's ``servers`` fields, plus extras.

Contract fields per server: ``file``, ``line``, ``listen``, ``client_auth``,
``ca_files``, ``findings`` (each with ``file`` and ``line``) and, with
``--user-cert``, ``verdict``. Everything else is documented extra.
"""

from __future__ import annotations

from typing import Any

from mtls_doctor.render.json import finding, iso, verdict
from mtls_doctor.rules.serverconf import DEFAULT_VERIFY_DEPTH, allowed_intermediates
from mtls_doctor.serverconf.facts import (
    BlockReport,
    CRLFacts,
    FileFacts,
    LintReport,
    ServerKind,
)

JSON = dict[str, Any]


def _crl(item: CRLFacts) -> JSON:
    return {
        "issuer": item.issuer,
        "this_update": iso(item.this_update),
        "next_update": iso(item.next_update) if item.next_update else None,
        "revoked": len(item.revoked_serials),
        "signature_verified": item.verified_by is not None,
    }


def _file(item: FileFacts) -> JSON:
    config = item.config
    return {
        "path": config.path,
        "written": config.written,
        "directive": config.directive,
        "role": str(config.role),
        "file": config.where.file,
        "line": config.where.line,
        "problem": str(item.problem) if item.problem else None,
        "detail": item.detail or None,
        "certificates": [
            {
                "subject": c.subject,
                "issuer": c.issuer,
                "not_after": iso(c.not_after),
                "is_ca": c.is_ca,
                "self_signed": c.self_signed,
                "fingerprint_sha256": c.fingerprint_sha256,
            }
            for c in item.certificates
        ],
        "crls": [_crl(c) for c in item.crls],
    }


def server(report: BlockReport) -> JSON:
    """One server block / vhost / bind."""
    block = report.block
    depth = block.verify_depth
    out: JSON = {
        "file": block.where.file,
        "line": block.where.line,
        "type": str(block.kind),
        "name": block.name,
        "label": block.label,
        "listen": list(block.listen),
        "client_auth": block.verify.client_auth,
        "verify_mode": str(block.verify),
        "ca_files": [f.path for f in block.files if f.role.trusted],
        "advertised_ca_names": list(report.advertised),
        "verify_depth": {
            "value": depth if depth is not None else DEFAULT_VERIFY_DEPTH[block.kind],
            "default": depth is None,
            "intermediates_allowed": allowed_intermediates(block.kind, depth),
            "file": block.verify_depth_at.file if block.verify_depth_at else None,
            "line": block.verify_depth_at.line if block.verify_depth_at else None,
        }
        if block.kind is not ServerKind.HAPROXY
        else None,
        "crl_check": str(block.crl_check),
        "crl_files": [f.path for f in block.files if f.role.is_crl],
        "files": [_file(f) for f in report.material.files],
        "notes": list(block.notes),
        "findings": [finding(f) for f in report.findings],
    }
    if report.verdict is not None:
        out["verdict"] = verdict(report.verdict)
    if report.issuing_ca:
        out["issuing_ca"] = [
            {"ca": subject, "verdict": verdict(item)} for subject, item in report.issuing_ca
        ]
    return out


def lint_document(reports: tuple[LintReport, ...]) -> JSON:
    """The whole ``lint-server`` document for one or more configuration files."""
    checked_at = reports[0].checked_at if reports else None
    return {
        "checked_at": iso(checked_at) if checked_at else None,
        "configs": [
            {
                "path": r.config.path,
                "type": str(r.config.kind),
                "files": list(r.config.files),
                "root": r.config.root,
                "root_reason": r.config.root_reason,
            }
            for r in reports
        ],
        "user_cert": next((r.user_cert for r in reports if r.user_cert), None),
        "servers": [server(b) for r in reports for b in r.blocks],
        "findings": [finding(f) for r in reports for f in r.findings],
    }
