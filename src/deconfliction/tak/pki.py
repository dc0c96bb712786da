"""The TAK PKI: a certificate authority in the data directory, the server's
certificate, and client certificates bound to a unit.

Layout (``<data dir>/tak/``, directory 0700, every file 0600)::

    ca.key.pem  ca.pem           the CA (RSA 3072, self-signed, 10 years)
    server.key.pem  server.pem   the gateway's certificate (RSA 2048, 2 years),
                                 SAN: localhost, 127.0.0.1 and the --host

:func:`ensure_server_pki` creates what is missing and is idempotent: the CA is
never replaced, and the server certificate only when it does not cover the host,
is about to expire, or was not issued by this CA. A file lock serialises
``serve`` and ``tak issue-client`` creating the CA at the same time.

A client certificate names its unit and party twice: in the subject (``CN`` =
unit, ``O`` = party) for people and TAK tooling, and as URI subject alternative
names ``urn:deconfliction:unit:<id>`` / ``urn:deconfliction:party:<id>``, which
is what the gateway reads (:func:`peer_identity`). RSA keys, because every TAK
client takes them; PKCS#12 files use SHA-1/3DES encryption, the one every
Android keystore opens.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import secrets
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Keys, certificates, revoked serials: 0600, replaced atomically (one helper for every
# private file the service writes; re-exported for tak/package.py and tak/revocation.py).
from deconfliction.private_files import write_private as write_private

TAK_DIR = "tak"
CA_KEY = "ca.key.pem"
CA_CERT = "ca.pem"
SERVER_KEY = "server.key.pem"
SERVER_CERT = "server.pem"
UNIT_URI = "urn:deconfliction:unit:"
PARTY_URI = "urn:deconfliction:party:"
ORGANIZATION = "Deconfliction"

CA_VALIDITY = timedelta(days=3650)
SERVER_VALIDITY = timedelta(days=730)
CLIENT_VALIDITY = timedelta(days=365)
#: A server certificate closer than this to its end is issued again.
RENEW_BEFORE = timedelta(days=30)
_BACKDATE = timedelta(minutes=5)  # clients with a slow clock still accept a new certificate
_WILDCARDS = {"0.0.0.0", "::", ""}


class PkiError(Exception):
    """The PKI in the data directory cannot be used (unreadable, or not ours)."""


@dataclass(frozen=True, slots=True)
class ServerPki:
    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    #: What this call created: ``"ca"``, ``"server"``.
    created: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """Who a verified client certificate says it is."""

    unit_id: str
    party_id: str
    subject: str


# --- files ---------------------------------------------------------------------------------


def tak_dir(data_dir: Path) -> Path:
    return data_dir / TAK_DIR


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the TAK directory's file lock (created 0700 if missing): ``serve``, ``tak
    issue-client`` and ``tak revoke`` change its files one at a time."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _load_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise PkiError(f"{path}: not a readable private key ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError(f"{path}: expected an RSA key")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"{path}: not a readable certificate ({exc})") from None


# --- certificates ---------------------------------------------------------------------------


def _name(common_name: str, organization: str = ORGANIZATION) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    validity: timedelta,
    now: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _leaf(
    builder: x509.CertificateBuilder,
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    usage: x509.ObjectIdentifier,
) -> x509.Certificate:
    return (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _new_ca(now: datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = _name(f"Deconfliction TAK CA {secrets.token_hex(4)}")
    cert = (
        _builder(name, name, key.public_key(), CA_VALIDITY, now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def server_names(host: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) a server certificate for ``host`` must cover."""
    dns = ["localhost"]
    ips = ["127.0.0.1"]
    host = host.strip().strip("[]")
    if host in _WILDCARDS:
        name = socket.gethostname()
        if name and name not in dns:
            dns.append(name)
        return dns, ips
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        if host.lower() not in dns:
            dns.append(host.lower())
    else:
        if ip not in ips:
            ips.append(ip)
    return dns, ips


def _covers(cert: x509.Certificate, dns: list[str], ips: list[str]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(dns) <= have_dns and set(ips) <= have_ips


def _issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _new_server(
    host: str, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, now: datetime
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    dns, ips = server_names(host)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    common = host.strip().strip("[]")
    builder = _builder(
        _name(dns[-1] if common in _WILDCARDS else common),
        ca_cert.subject,
        key.public_key(),
        SERVER_VALIDITY,
        now,
    ).add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, _leaf(builder, ca_key, ca_cert, ExtendedKeyUsageOID.SERVER_AUTH)


def ensure_ca(data_dir: Path, now: datetime | None = None) -> ServerPki:
    """The CA in ``data_dir`` (created when missing); the server paths are not checked."""
    return _ensure(data_dir, None, now or datetime.now(UTC))


def ensure_server_pki(data_dir: Path, host: str, now: datetime | None = None) -> ServerPki:
    """The CA and a server certificate for ``host``, created or renewed as needed."""
    return _ensure(data_dir, host, now or datetime.now(UTC))


def _ensure(data_dir: Path, host: str | None, now: datetime) -> ServerPki:
    directory = tak_dir(data_dir)
    paths = ServerPki(
        directory,
        directory / CA_CERT,
        directory / CA_KEY,
        directory / SERVER_CERT,
        directory / SERVER_KEY,
    )
    created: list[str] = []
    with locked(directory):
        have_key, have_cert = paths.ca_key.exists(), paths.ca_cert.exists()
        if have_key != have_cert:
            missing = paths.ca_cert if have_key else paths.ca_key
            raise PkiError(
                f"{missing} is missing but its pair exists: restore it, or move the "
                f"{directory} directory away to create a new CA (every issued client "
                "certificate then stops working)"
            )
        if not have_key:
            ca_key, ca_cert = _new_ca(now)
            write_private(paths.ca_key, _key_pem(ca_key))
            write_private(paths.ca_cert, _cert_pem(ca_cert))
            created.append("ca")
        else:
            ca_key, ca_cert = _load_key(paths.ca_key), _load_cert(paths.ca_cert)
        if host is not None:
            dns, ips = server_names(host)
            keep = False
            if paths.server_cert.exists() and paths.server_key.exists():
                cert = _load_cert(paths.server_cert)
                keep = (
                    _covers(cert, dns, ips)
                    and cert.not_valid_after_utc - RENEW_BEFORE > now
                    and _issued_by(cert, ca_cert)
                )
            if not keep:
                key, cert = _new_server(host, ca_key, ca_cert, now)
                write_private(paths.server_key, _key_pem(key))
                write_private(paths.server_cert, _cert_pem(cert))
                created.append("server")
    return ServerPki(
        paths.directory,
        paths.ca_cert,
        paths.ca_key,
        paths.server_cert,
        paths.server_key,
        tuple(created),
    )


def server_common_name(data_dir: Path) -> str | None:
    """The host the server certificate was issued for (``serve --host``), if there is one."""
    path = tak_dir(data_dir) / SERVER_CERT
    if not path.exists():
        return None
    names = _load_cert(path).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else None
    return value if isinstance(value, str) and value else None


def server_tls_context(pki: ServerPki) -> ssl.SSLContext:
    """Mutual TLS: TLS 1.2+, the server certificate, and a client certificate of our CA required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(cafile=pki.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


# --- client certificates ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    key_pem: bytes
    cert_pem: bytes
    ca_pem: bytes
    #: The client key and certificate (and the CA), encrypted with :attr:`password`.
    p12: bytes
    #: The CA alone, as a truststore, encrypted with :attr:`password`.
    truststore_p12: bytes
    password: str
    serial: int
    not_after: datetime


def issue_client_certificate(
    data_dir: Path,
    unit_id: str,
    party_id: str,
    *,
    now: datetime | None = None,
    password: str | None = None,
) -> ClientCredentials:
    """A client certificate for ``unit_id`` of ``party_id``, signed by the data dir's CA."""
    now = now or datetime.now(UTC)
    pki = ensure_ca(data_dir, now)
    ca_key, ca_cert = _load_key(pki.ca_key), _load_cert(pki.ca_cert)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = _builder(
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, party_id),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ORGANIZATION),
                x509.NameAttribute(NameOID.COMMON_NAME, unit_id),
            ]
        ),
        ca_cert.subject,
        key.public_key(),
        CLIENT_VALIDITY,
        now,
    ).add_extension(
        x509.SubjectAlternativeName(
            [
                x509.UniformResourceIdentifier(UNIT_URI + unit_id),
                x509.UniformResourceIdentifier(PARTY_URI + party_id),
            ]
        ),
        critical=False,
    )
    cert = _leaf(builder, ca_key, ca_cert, ExtendedKeyUsageOID.CLIENT_AUTH)
    password = password or secrets.token_urlsafe(15)
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(password.encode())
    )
    p12 = pkcs12.serialize_key_and_certificates(unit_id.encode(), key, cert, [ca_cert], encryption)
    truststore = pkcs12.serialize_key_and_certificates(
        b"deconfliction-ca", None, None, [ca_cert], encryption
    )
    return ClientCredentials(
        key_pem=_key_pem(key),
        cert_pem=_cert_pem(cert),
        ca_pem=_cert_pem(ca_cert),
        p12=p12,
        truststore_p12=truststore,
        password=password,
        serial=cert.serial_number,
        not_after=cert.not_valid_after_utc,
    )


def peer_identity(peercert: Mapping[str, Any] | None) -> PeerIdentity | None:
    """The unit and party of a verified peer certificate (``SSLObject.getpeercert()``).

    ``None`` unless it names exactly one unit and one party in its URI SANs.
    """
    if not peercert:
        return None
    units: list[str] = []
    parties: list[str] = []
    for kind, value in peercert.get("subjectAltName", ()):
        if kind != "URI" or not isinstance(value, str):
            continue
        if value.startswith(UNIT_URI):
            units.append(value[len(UNIT_URI) :])
        elif value.startswith(PARTY_URI):
            parties.append(value[len(PARTY_URI) :])
    if len(units) != 1 or len(parties) != 1 or not units[0] or not parties[0]:
        return None
    subject = ", ".join(
        f"{key}={value}" for rdn in peercert.get("subject", ()) for key, value in rdn
    )
    return PeerIdentity(units[0], parties[0], subject)
