"""The TAK PKI in the data directory: created once, kept, renewed only when it must be."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from deconfliction.tak import pki

pytestmark = pytest.mark.unit


def _sans(path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(san.get_values_for_type(x509.DNSName))
    return dns, {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def test_created_once_private_and_idempotent(tmp_path: Path) -> None:
    first = pki.ensure_server_pki(tmp_path, "10.1.2.3")
    assert first.created == ("ca", "server")
    assert stat.S_IMODE(first.directory.stat().st_mode) == 0o700
    for path in (first.ca_cert, first.ca_key, first.server_cert, first.server_key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    dns, ips = _sans(first.server_cert)
    assert "localhost" in dns and {"127.0.0.1", "10.1.2.3"} <= ips
    ca_bytes, server_bytes = first.ca_cert.read_bytes(), first.server_cert.read_bytes()

    again = pki.ensure_server_pki(tmp_path, "10.1.2.3")
    assert again.created == ()
    assert again.ca_cert.read_bytes() == ca_bytes
    assert again.server_cert.read_bytes() == server_bytes

    # Another host: a new server certificate from the same CA.
    moved = pki.ensure_server_pki(tmp_path, "tak.example.org")
    assert moved.created == ("server",)
    assert moved.ca_cert.read_bytes() == ca_bytes
    assert "tak.example.org" in _sans(moved.server_cert)[0]
    assert isinstance(pki.server_tls_context(moved), ssl.SSLContext)
    assert pki.server_common_name(tmp_path) == "tak.example.org"


def test_peer_identity_needs_exactly_one_unit_and_party() -> None:
    good = {
        "subject": ((("commonName", "a-cell"),),),
        "subjectAltName": (
            ("URI", "urn:deconfliction:unit:a-cell"),
            ("URI", "urn:deconfliction:party:alpha"),
        ),
    }
    identity = pki.peer_identity(good)
    assert identity is not None
    assert (identity.unit_id, identity.party_id) == ("a-cell", "alpha")
    assert pki.peer_identity(None) is None
    assert pki.peer_identity({"subject": good["subject"]}) is None
    two_units = dict(good)
    two_units["subjectAltName"] = (*good["subjectAltName"], ("URI", "urn:deconfliction:unit:x"))
    assert pki.peer_identity(two_units) is None
