"""``deconfliction tak issue-client``: a certificate bound to a unit, PKCS#12 files and a
TAK data package that pytak (like ATAK) imports; an unknown unit is refused."""

from __future__ import annotations

import stat
import warnings
import zipfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree

from tests.support.live import run_cli, store_at
from tests.support.tak import issue_client
from tests.support.world import BOX_A, party, unit

pytestmark = pytest.mark.integration

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pytak.client_functions


@pytest.fixture
def registered(data_dir: Path) -> Path:
    """Party alpha with unit a-cell, written straight into the store."""
    data_dir.mkdir(parents=True)
    with store_at(data_dir) as store:
        store.create("party", "alpha", "alpha", party("alpha", "Alpha"), "test")
        store.create("unit", "a-cell", "alpha", unit("a-cell", "alpha", BOX_A, True), "test")
    return data_dir


def test_unknown_unit_is_refused_with_a_clear_error(registered: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(
        "tak", "issue-client", "--unit", "ghost", "--out", str(out), "--data-dir", str(registered)
    )
    assert result.returncode == 1
    assert "unknown unit 'ghost'" in result.stderr
    assert not out.exists()


def test_issued_files_and_data_package(registered: Path, tmp_path: Path) -> None:
    issued = issue_client(
        registered, "a-cell", tmp_path / "out", "--server-host", "tak.example.org"
    )
    for path in (tmp_path / "out").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in (registered / "tak").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(issued.ca.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.rfc4514_string().startswith("CN=a-cell")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.UniformResourceIdentifier)) == {
        "urn:deconfliction:unit:a-cell",
        "urn:deconfliction:party:alpha",
    }

    with zipfile.ZipFile(issued.data_package) as archive:
        names = set(archive.namelist())
        assert names == {
            "MANIFEST/manifest.xml",
            "certs/a-cell.p12",
            "certs/truststore.p12",
            "certs/deconfliction.pref",
        }
        manifest = etree.fromstring(archive.read("MANIFEST/manifest.xml"))
        listed = {c.get("zipEntry") for c in manifest.iter("Content")}
        assert listed == names - {"MANIFEST/manifest.xml"}
        pref = etree.fromstring(archive.read("certs/deconfliction.pref"))
        entries = {e.get("key"): e.text for e in pref.iter("entry")}
        assert entries["connectString0"] == "tak.example.org:8089:ssl"
        assert entries["clientPassword"] == issued.password
        key, p12_cert, extra = pkcs12.load_key_and_certificates(
            archive.read("certs/a-cell.p12"), issued.password.encode()
        )
        assert key is not None and p12_cert == cert and extra == [ca]
        trust = pkcs12.load_key_and_certificates(
            archive.read("certs/truststore.p12"), issued.password.encode()
        )
        assert trust[0] is None and trust[2] == [ca]

    # pytak imports the package as a TAK client does: URL, client certificate, CA.
    prefs = pytak.client_functions.read_pref_package(str(issued.data_package))
    assert prefs["COT_URL"] == "ssl://tak.example.org:8089"
    assert Path(prefs["PYTAK_TLS_CLIENT_CAFILE"]).read_bytes() == issued.ca.read_bytes()
