"""Every lint-server rule that predicts a behaviour, proven on the real server.

Each test starts nginx, Apache httpd or HAProxy (Debian's packages) from a
configuration (which passed ``nginx -t`` / ``apache2 -t`` / ``haproxy -c``),
runs ``lint-server`` on that very file, checks the finding, then shows the
predicted behaviour happening, with the project's TLS client as the user.
Where a rule predicts that the server will not start, the proof is that its
configuration check fails. Most rules are also shown not to fire on the
fixed configuration.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mtls_doctor.causes import Cause
from mtls_doctor.lab.pki import LabPKI
from tests.realservers.conftest import (
    Material,
    assert_logged,
    codes,
    config_of,
    expired_root_pki,
    lint_block,
    present,
    served,
)
from tests.servers.real import (
    ServerRunner,
    ServerStartError,
    require_binary,
    start_apache,
    start_haproxy,
    start_haproxy_config,
    start_nginx,
    start_nginx_config,
)

pytestmark = pytest.mark.realserver


def _nginx(runner: ServerRunner, lab: LabPKI, **kwargs: object):  # type: ignore[no-untyped-def]
    return runner(start_nginx, cert=lab.server_pem, key=lab.server_key_file, **kwargs)  # type: ignore[arg-type]


def _apache(runner: ServerRunner, lab: LabPKI, **kwargs: object):  # type: ignore[no-untyped-def]
    return runner(start_apache, cert=lab.server_pem, key=lab.server_key_file, **kwargs)  # type: ignore[arg-type]


def _haproxy(runner: ServerRunner, pem: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return runner(start_haproxy, cert_and_key_pem=pem, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- client auth off


@pytest.mark.parametrize("kind", ["nginx", "apache", "haproxy"])
def test_ca_file_without_verify_is_silently_ignored(
    kind: str,
    servers: ServerRunner,
    live_lab: LabPKI,
    live_lab_haproxy_pem: Path,
    material: Material,
) -> None:
    if kind == "nginx":
        server = _nginx(servers, live_lab, verify_client=None, client_certificate=material.root)
    elif kind == "apache":
        server = _apache(servers, live_lab, verify_client=None, ca_file=material.root)
    else:
        server = _haproxy(servers, live_lab_haproxy_pem, verify=None, ca_file=material.root)

    report = lint_block(server)
    without = present(server, live_lab, None)

    assert report.block.verify.client_auth == "not_requested"
    assert "client_auth_off" in codes(report)
    assert not without.certificate_requested
    assert served(without)


# --------------------------------------------------------------------------- trust anchors


@pytest.mark.parametrize("kind", ["nginx", "apache", "haproxy"])
def test_intermediate_only_bundle_rejects_every_client(
    kind: str,
    servers: ServerRunner,
    live_lab: LabPKI,
    live_lab_haproxy_pem: Path,
    material: Material,
) -> None:
    bundle = material.intermediate
    if kind == "nginx":
        server = _nginx(servers, live_lab, client_certificate=bundle)
    elif kind == "apache":
        server = _apache(servers, live_lab, ca_file=bundle, verify_depth=2)
    else:
        server = _haproxy(servers, live_lab_haproxy_pem, ca_file=bundle)

    report = lint_block(server)
    good = present(server, live_lab, "good-ecdsa")

    assert "ca_chain_incomplete" in codes(report)
    assert not served(good)


def test_root_added_fixes_the_intermediate_only_bundle(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = _nginx(servers, live_lab, client_certificate=material.root_and_intermediate)

    report = lint_block(server)

    assert "ca_chain_incomplete" not in codes(report)
    assert served(present(server, live_lab, "good-ecdsa"))


def test_rotation_overlap_accepts_both_keys(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = _nginx(servers, live_lab, client_certificate=material.root_and_rotated)

    report = lint_block(server)

    assert "ca_same_name_other_key" in codes(report)
    assert served(present(server, live_lab, "good-ecdsa"))
    assert served(present(server, live_lab, "rotated"))


def test_expired_client_ca_rejects_its_clients(
    servers: ServerRunner, live_lab: LabPKI, tmp_path: Path
) -> None:
    pki = expired_root_pki(tmp_path)
    server = _nginx(servers, live_lab, client_certificate=pki.root)

    report = lint_block(server)
    answer = subprocess.run(
        [
            *(require_binary("curl"), "-sk", "-o", "/dev/null", "-w", "%{http_code}"),
            *("--cert", str(pki.leaf), "--key", str(pki.key), server.url()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert "ca_expired" in codes(report)
    assert answer.stdout == "400"
    assert_logged(server, "client SSL certificate verify error: (10:certificate has expired)")


# --------------------------------------------------------------------------- CA names


def test_nginx_advertises_only_ssl_client_certificate(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = _nginx(
        servers,
        live_lab,
        client_certificate=material.unrelated,
        trusted_certificate=material.root,
        verify_depth=2,
    )

    report = lint_block(server)
    probe = present(server, live_lab, None)

    assert "ca_names_hide_trusted" in codes(report)
    assert (
        probe.acceptable_ca_names
        == report.advertised
        == ("CN=Unrelated Root CA,OU=elsewhere,O=mtls-doctor lab",)
    )
    assert served(present(server, live_lab, "good-ecdsa"))  # trusted, just not advertised


def test_haproxy_ca_verify_file_is_not_advertised(
    servers: ServerRunner, live_lab: LabPKI, live_lab_haproxy_pem: Path, material: Material
) -> None:
    server = _haproxy(
        servers, live_lab_haproxy_pem, ca_file=material.intermediate, ca_verify_file=material.root
    )

    report = lint_block(server)
    probe = present(server, live_lab, None)

    assert "ca_names_hide_trusted" not in codes(report)  # the root's intermediate is advertised
    assert (
        probe.acceptable_ca_names == report.advertised == ("CN=Lab Issuing CA,O=mtls-doctor lab",)
    )
    assert served(present(server, live_lab, "good-ecdsa"))


def test_haproxy_no_ca_names_sends_an_empty_list(
    servers: ServerRunner, live_lab: LabPKI, live_lab_haproxy_pem: Path, material: Material
) -> None:
    server = _haproxy(
        servers, live_lab_haproxy_pem, ca_file=material.root, extra_bind="no-ca-names"
    )

    report = lint_block(server)
    probe = present(server, live_lab, None)

    assert "ca_names_empty" in codes(report)
    assert probe.certificate_requested
    assert probe.acceptable_ca_names == report.advertised == ()


def test_apache_dn_request_file_replaces_the_advertised_names(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = _apache(
        servers, live_lab, ca_file=material.root, ca_dn_file=material.unrelated, verify_depth=2
    )

    report = lint_block(server)
    probe = present(server, live_lab, None)

    assert {"ca_names_hide_trusted", "ca_names_untrusted"} <= codes(report)
    assert probe.acceptable_ca_names == report.advertised
    assert report.advertised == ("CN=Unrelated Root CA,OU=elsewhere,O=mtls-doctor lab",)
    # Advertised but not trusted: a browser would offer it, and Apache refuses it.
    assert not served(present(server, live_lab, "untrusted"))
    assert served(present(server, live_lab, "good-ecdsa"))


# --------------------------------------------------------------------------- verify depth


def test_nginx_depth_zero_rejects_a_chain_with_an_intermediate(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = _nginx(
        servers, live_lab, client_certificate=material.root_and_intermediate, verify_depth=0
    )

    report = lint_block(server)

    assert "verify_depth_too_small" in codes(report)
    assert not served(present(server, live_lab, "good-ecdsa"))
    # OpenSSL stops looking for issuers at the depth limit: nginx logs error 2 or 22.
    assert_logged(server, "client SSL certificate verify error: (")


def test_nginx_default_depth_one_accepts_one_intermediate(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = _nginx(servers, live_lab, client_certificate=material.root_and_intermediate)

    assert "verify_depth_too_small" not in codes(lint_block(server))
    assert served(present(server, live_lab, "good-ecdsa"))


@pytest.mark.parametrize(
    ("bundle", "depth", "code", "accepted"),
    [
        ("root_and_intermediate", None, "verify_depth_too_small", False),
        ("root", None, "verify_depth_default", False),
        ("root_and_intermediate", 2, None, True),
    ],
)
def test_apache_depth_counts_one_less_than_nginx(
    bundle: str,
    depth: int | None,
    code: str | None,
    accepted: bool,
    servers: ServerRunner,
    live_lab: LabPKI,
    material: Material,
) -> None:
    server = _apache(servers, live_lab, ca_file=getattr(material, bundle), verify_depth=depth)

    found = codes(lint_block(server))

    assert (
        (code in found) if code else not found & {"verify_depth_too_small", "verify_depth_default"}
    )
    assert served(present(server, live_lab, "good-ecdsa")) is accepted
    if not accepted:
        assert_logged(server, "AH02040")


# --------------------------------------------------------------------------- CRLs


@pytest.mark.parametrize("kind", ["nginx", "apache", "haproxy"])
@pytest.mark.parametrize(
    ("crls", "code", "log"),
    [
        ("intermediate_crl_only", "crl_missing_for_ca", "(3:unable to get certificate CRL)"),
        ("intermediate_crl_expired", "crl_expired", "(12:CRL has expired)"),
        ("intermediate_crl_future", "crl_not_yet_valid", "(11:CRL is not yet valid)"),
        ("root_crl_forged", "crl_bad_signature", "(3:unable to get certificate CRL)"),
    ],
)
def test_crl_problems_reject_valid_certificates(
    kind: str,
    crls: str,
    code: str,
    log: str,
    servers: ServerRunner,
    live_lab: LabPKI,
    live_lab_haproxy_pem: Path,
    material: Material,
) -> None:
    crl = getattr(material, crls)
    if kind == "nginx":
        server = _nginx(servers, live_lab, client_certificate=material.root, crl=crl)
    elif kind == "apache":
        server = _apache(servers, live_lab, ca_file=material.root, verify_depth=2, crl=crl)
    else:
        server = _haproxy(servers, live_lab_haproxy_pem, ca_file=material.root, crl_file=crl)

    report = lint_block(server, user_cert=str(live_lab.identities["good-ecdsa"].pem))

    assert code in codes(report)
    assert report.verdict is not None
    assert report.verdict.cause is Cause.REJECTED_UNEXPLAINED
    assert not served(present(server, live_lab, "good-ecdsa"))
    if kind == "nginx":
        assert_logged(server, f"client SSL certificate verify error: {log}")


def test_fresh_crls_for_every_ca_accept_and_revoke(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = _nginx(servers, live_lab, client_certificate=material.root, crl=material.all_crls)

    found = codes(lint_block(server))

    assert not found & {"crl_missing_for_ca", "crl_expired", "crl_bad_signature"}
    assert served(present(server, live_lab, "good-ecdsa"))
    assert not served(present(server, live_lab, "revoked"))


def test_apache_crl_without_revocation_check_accepts_revoked(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = _apache(
        servers,
        live_lab,
        ca_file=material.root,
        verify_depth=2,
        extra_vhost=f'SSLCARevocationFile "{material.all_crls}"',
    )

    report = lint_block(server)

    assert "crl_not_checked" in codes(report)
    assert served(present(server, live_lab, "revoked"))


def test_apache_leaf_check_needs_only_the_issuers_crl(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = _apache(
        servers,
        live_lab,
        ca_file=material.root,
        verify_depth=2,
        extra_vhost=f'SSLCARevocationFile "{material.intermediate_crl_only}"\n'
        "SSLCARevocationCheck leaf",
    )

    found = codes(lint_block(server))

    assert "crl_leaf_only" in found
    assert "crl_missing_for_ca" not in found
    assert served(present(server, live_lab, "good-ecdsa"))
    assert not served(present(server, live_lab, "revoked"))


# --------------------------------------------------------------------------- optional


def test_optional_without_check_serves_clients_without_certificate(
    servers: ServerRunner, live_lab: LabPKI, live_lab_haproxy_pem: Path, material: Material
) -> None:
    started = [
        _nginx(servers, live_lab, client_certificate=material.root, verify_client="optional"),
        _apache(servers, live_lab, ca_file=material.root, verify_client="optional", verify_depth=2),
        _haproxy(servers, live_lab_haproxy_pem, ca_file=material.root, verify="optional"),
    ]
    for server in started:
        report = lint_block(server)
        assert "optional_unchecked" in codes(report), server.kind
        assert served(present(server, live_lab, None)), server.kind


def test_optional_no_ca_without_check_serves_untrusted_certificates(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    started = [
        _nginx(servers, live_lab, client_certificate=material.root, verify_client="optional_no_ca"),
        _apache(
            servers,
            live_lab,
            ca_file=material.root,
            verify_client="optional_no_ca",
            verify_depth=2,
        ),
    ]
    for server in started:
        report = lint_block(server, user_cert=str(live_lab.identities["untrusted"].pem))
        assert "optional_no_ca_unchecked" in codes(report), server.kind
        assert report.verdict is not None and report.verdict.cause is Cause.ACCEPTED
        assert served(present(server, live_lab, "untrusted")), server.kind


def test_optional_with_a_verify_check_refuses_clients_without_certificate(
    servers: ServerRunner, live_lab: LabPKI, live_lab_haproxy_pem: Path, material: Material
) -> None:
    server = servers(
        start_nginx_config,
        f"""server {{
            listen 127.0.0.1:{{port}} ssl;
            ssl_certificate "{live_lab.server_pem}";
            ssl_certificate_key "{live_lab.server_key_file}";
            ssl_verify_client optional;
            ssl_client_certificate "{material.root}";
            location / {{
                if ($ssl_client_verify != SUCCESS) {{ return 403; }}
                return 200 "ok\\n";
            }}
        }}""",
    )
    verify = f'verify optional ca-file "{material.root}"'
    haproxy = servers(
        start_haproxy_config,
        f"""frontend checked
            bind 127.0.0.1:{{port}} ssl crt "{live_lab_haproxy_pem}" {verify}
            http-request deny if !{{ ssl_c_used }}
            http-request return status 200 content-type text/plain string "ok"
        """,
    )

    for running in (server, haproxy):
        found = codes(lint_block(running))
        assert not found & {"optional_unchecked", "verify_result_forwarded"}, running.kind
        assert present(running, live_lab, None).http.status == 403, running.kind  # type: ignore[union-attr]
        assert served(present(running, live_lab, "good-ecdsa")), running.kind


# --------------------------------------------------------------------------- Apache per-directory


def test_apache_per_location_verify_fails_for_clients_without_post_handshake_auth(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = _apache(
        servers,
        live_lab,
        ca_file=material.root,
        verify_client=None,
        verify_depth=2,
        extra_vhost="<Location /secure>\n    SSLVerifyClient require\n</Location>",
    )

    report = lint_block(server)
    secure = present(server, live_lab, "good-ecdsa", "/secure")

    scoped = [f for f in report.findings if f.code == "scoped_verify_client"]
    assert scoped and scoped[0].severity == "error"
    assert (
        scoped[0].line
        == config_of(server).read_text().splitlines().index("    SSLVerifyClient require") + 1
    )
    # Like a browser, the project's client does not offer post-handshake auth.
    assert secure.tls_version == "TLSv1.3"
    assert secure.http is not None and secure.http.status == 403
    assert_logged(server, "AH10158: cannot perform post-handshake authentication")


def test_apache_per_location_verify_renegotiates_on_tls12(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = _apache(
        servers,
        live_lab,
        ca_file=material.root,
        verify_client=None,
        verify_depth=2,
        protocols="TLSv1.2",
        extra_vhost="<Location /secure>\n    SSLVerifyClient require\n</Location>",
    )

    scoped = [f for f in lint_block(server).findings if f.code == "scoped_verify_client"]

    assert scoped and scoped[0].severity == "warning"
    assert served(present(server, live_lab, "good-ecdsa", "/secure"))


# --------------------------------------------------------------------------- HAProxy ignore-err


@pytest.mark.parametrize(
    ("option", "identity"),
    [
        ("crt-ignore-err all", "expired"),
        ("ca-ignore-err all", "untrusted"),
        ("crt-ignore-err 10", "expired"),
    ],
)
def test_haproxy_ignore_err_lets_bad_certificates_in(
    option: str,
    identity: str,
    servers: ServerRunner,
    live_lab: LabPKI,
    live_lab_haproxy_pem: Path,
    material: Material,
) -> None:
    server = _haproxy(servers, live_lab_haproxy_pem, ca_file=material.root, extra_bind=option)

    report = lint_block(server, user_cert=str(live_lab.identities[identity].pem))

    assert "verify_errors_ignored" in codes(report)
    assert report.verdict is not None and report.verdict.cause is Cause.ACCEPTED
    assert served(present(server, live_lab, identity))


# --------------------------------------------------------------------------- not started / ignored


@pytest.mark.parametrize("kind", ["nginx", "apache", "haproxy"])
def test_missing_ca_file_stops_the_server(
    kind: str, servers: ServerRunner, live_lab: LabPKI, live_lab_haproxy_pem: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(ServerStartError):
        if kind == "nginx":
            _nginx(servers, live_lab, client_certificate=missing)
        elif kind == "apache":
            _apache(servers, live_lab, ca_file=missing)
        else:
            _haproxy(servers, live_lab_haproxy_pem, ca_file=missing)
    written = sorted((servers.tmp).glob(f"{kind}-*/*"))
    config = next(p for p in written if p.name in ("nginx.conf", "httpd.conf", "haproxy.cfg"))

    from mtls_doctor.serverconf.lint import lint_server

    found = {f.code for r in lint_server([str(config)]) for b in r.blocks for f in b.findings}

    assert "file_missing" in found


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
def test_verify_without_ca_stops_the_server(
    kind: str, servers: ServerRunner, live_lab: LabPKI, live_lab_haproxy_pem: Path
) -> None:
    expected = "no ssl_client_certificate" if kind == "nginx" else "verify is enabled but no CA"
    with pytest.raises(ServerStartError, match=expected):
        if kind == "nginx":
            _nginx(servers, live_lab)
        else:
            _haproxy(servers, live_lab_haproxy_pem)
    config = next(
        p
        for p in sorted(servers.tmp.glob(f"{kind}-*/*"))
        if p.name in ("nginx.conf", "haproxy.cfg")
    )

    from mtls_doctor.serverconf.lint import lint_server

    found = {f.code for r in lint_server([str(config)]) for b in r.blocks for f in b.findings}

    assert "no_client_ca" in found


def test_apache_verify_without_ca_rejects_every_certificate(
    servers: ServerRunner, live_lab: LabPKI
) -> None:
    server = _apache(servers, live_lab, verify_depth=2)

    assert "no_client_ca" in codes(lint_block(server))
    assert not served(present(server, live_lab, "good-ecdsa"))


def test_nginx_client_auth_in_a_plain_http_server_is_ignored(
    servers: ServerRunner, live_lab: LabPKI, material: Material
) -> None:
    server = servers(
        start_nginx_config,
        f"""server {{
            listen 127.0.0.1:{{port}};
            ssl_verify_client on;
            ssl_client_certificate "{material.root}";
            location / {{ return 200 "plain\\n"; }}
        }}""",
    )
    from mtls_doctor.serverconf.lint import lint_server

    reports = lint_server([str(config_of(server))])
    answer = subprocess.run(
        [require_binary("curl"), "-s", f"http://{server.target}/"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert [f.code for f in reports[0].findings] == ["setting_ignored"] * 2
    assert reports[0].blocks == ()
    assert answer.stdout == "plain\n"  # served over plain HTTP, no certificate involved
