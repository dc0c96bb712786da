"""A unit's TAK onboarding files: PEM key and certificate, PKCS#12 files, a data package.

The data package is the zip ATAK (and WinTAK, iTAK, pytak) imports::

    MANIFEST/manifest.xml       MissionPackageManifest v2 listing the files
    certs/<unit>.p12            client key + certificate (+ the CA), password-protected
    certs/truststore.p12        the CA, the same password
    certs/deconfliction.pref    a ``cot_streams`` connection ``host:port:ssl`` and the
                                certificate preferences (locations and passwords)

The preference file carries the PKCS#12 password, as TAK data packages do, so that
the client connects on import: the whole package is a secret (files 0600).
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from deconfliction.private_files import private_dir, write_private
from deconfliction.tak.pki import ClientCredentials

PREF_NAME = "deconfliction.pref"
TRUSTSTORE_NAME = "truststore.p12"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class ClientBundle:
    key_pem: Path
    cert_pem: Path
    ca_pem: Path
    p12: Path
    truststore: Path
    data_package: Path

    def files(self) -> list[Path]:
        return [
            self.key_pem,
            self.cert_pem,
            self.ca_pem,
            self.p12,
            self.truststore,
            self.data_package,
        ]


def file_stem(unit_id: str) -> str:
    """A file name for a unit id (``:`` and anything unusual become ``_``)."""
    return _SAFE.sub("_", unit_id)


def connect_string(host: str, port: int) -> str:
    return f"{host}:{port}:ssl"


def _entry(parent: etree._Element, key: str, java_class: str, text: str) -> None:
    entry = etree.SubElement(parent, "entry", key=key)
    entry.set("class", f"class java.lang.{java_class}")
    entry.text = text


def preference_xml(
    *, host: str, port: int, p12_name: str, password: str, description: str
) -> bytes:
    root = etree.Element("preferences")
    streams = etree.SubElement(root, "preference", version="1", name="cot_streams")
    _entry(streams, "count", "Integer", "1")
    _entry(streams, "description0", "String", description)
    _entry(streams, "enabled0", "Boolean", "true")
    _entry(streams, "connectString0", "String", connect_string(host, port))
    app = etree.SubElement(root, "preference", version="1", name="com.atakmap.app_preferences")
    _entry(app, "displayServerConnectionWidget", "Boolean", "true")
    _entry(app, "caLocation", "String", f"cert/{TRUSTSTORE_NAME}")
    _entry(app, "caPassword", "String", password)
    _entry(app, "clientPassword", "String", password)
    _entry(app, "certificateLocation", "String", f"cert/{p12_name}")
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return out


def manifest_xml(name: str, entries: list[str]) -> bytes:
    root = etree.Element("MissionPackageManifest", version="2")
    config = etree.SubElement(root, "Configuration")
    for key, value in (
        ("uid", str(uuid.uuid4())),
        ("name", name),
        ("onReceiveDelete", "true"),
    ):
        etree.SubElement(config, "Parameter", name=key, value=value)
    contents = etree.SubElement(root, "Contents")
    for entry in entries:
        etree.SubElement(contents, "Content", ignore="false", zipEntry=entry)
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return out


def data_package(unit_id: str, credentials: ClientCredentials, *, host: str, port: int) -> bytes:
    stem = file_stem(unit_id)
    p12_name = f"{stem}.p12"
    files = {
        f"certs/{p12_name}": credentials.p12,
        f"certs/{TRUSTSTORE_NAME}": credentials.truststore_p12,
        f"certs/{PREF_NAME}": preference_xml(
            host=host,
            port=port,
            p12_name=p12_name,
            password=credentials.password,
            description=f"Deconfliction ({unit_id})",
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "MANIFEST/manifest.xml", manifest_xml(f"deconfliction-{stem}", list(files))
        )
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_client_bundle(
    out_dir: Path, unit_id: str, credentials: ClientCredentials, *, host: str, port: int
) -> ClientBundle:
    """Write every onboarding file of a unit into ``out_dir`` (each 0600)."""
    private_dir(out_dir)
    stem = file_stem(unit_id)
    bundle = ClientBundle(
        key_pem=out_dir / f"{stem}.key.pem",
        cert_pem=out_dir / f"{stem}.pem",
        ca_pem=out_dir / "ca.pem",
        p12=out_dir / f"{stem}.p12",
        truststore=out_dir / TRUSTSTORE_NAME,
        data_package=out_dir / f"{stem}-datapackage.zip",
    )
    write_private(bundle.key_pem, credentials.key_pem)
    write_private(bundle.cert_pem, credentials.cert_pem)
    write_private(bundle.ca_pem, credentials.ca_pem)
    write_private(bundle.p12, credentials.p12)
    write_private(bundle.truststore, credentials.truststore_p12)
    write_private(bundle.data_package, data_package(unit_id, credentials, host=host, port=port))
    return bundle
