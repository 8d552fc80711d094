"""tls.extensions against a second implementation: gnutls-serv with its defaults, and with
safe renegotiation (RFC 5746), extended master secret (RFC 7627), encrypt-then-MAC (RFC 7366)
and session tickets (RFC 5077) switched off. The s_server cases are in test_tls_check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from probe.model import Status
from tests.checks.test_tls_check import _scan, _target
from tests.lab.servers import gnutls_serv

GNUTLS_ALL_OFF = (
    "NORMAL:-VERS-ALL:+VERS-TLS1.2:%DISABLE_SAFE_RENEGOTIATION:%NO_ETM:%NO_SESSION_HASH:%NO_TICKETS"
)


def test_gnutls_defaults(gnutls_server: Any) -> None:
    result = _scan(_target(gnutls_server.host, gnutls_server.port), groups=False)
    assert result.status is Status.COMPLETED and result.tls is not None
    ext = result.tls.extensions
    assert ext is not None and ext.version == "TLSv1.2"
    assert ext.secure_renegotiation and ext.secure_renegotiation_scsv
    assert ext.extended_master_secret and ext.encrypt_then_mac and ext.session_tickets
    assert ext.session_id  # gnutls names the session even when it issues tickets
    assert ext.ocsp_stapling is False and ext.compression == "null" and ext.alpn is None


def test_gnutls_with_every_feature_off(lab_certs: Any, tmp_path: Path) -> None:
    with gnutls_serv(lab_certs, tmp_path, priority=GNUTLS_ALL_OFF) as server:
        result = _scan(_target(server.host, server.port), groups=False)
    assert result.status is Status.COMPLETED and result.tls is not None
    assert "extensions" not in result.tls.incomplete
    ext = result.tls.extensions
    assert ext is not None and ext.version == "TLSv1.2"
    assert ext.secure_renegotiation is False and ext.secure_renegotiation_scsv is False
    assert ext.extended_master_secret is False
    assert ext.encrypt_then_mac is False
    assert ext.session_tickets is False
    assert ext.compression == "null" and ext.alpn is None
