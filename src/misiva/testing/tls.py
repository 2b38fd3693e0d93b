"""TLS material for test servers: self-signed for 127.0.0.1 and localhost, or issued for any
names by a test certificate authority (MTA-STS checks an MX host's name)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from misiva.smtp.certificate import self_signed_files

__all__ = ["TestCA", "client_context_trusting", "self_signed_context", "self_signed_files"]


def self_signed_context(directory: str | os.PathLike[str]) -> ssl.SSLContext:
    """A server-side SSLContext with a fresh self-signed certificate for 127.0.0.1/localhost."""
    cert_path, key_path = self_signed_files(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


def client_context_trusting(cert_path: str | os.PathLike[str]) -> ssl.SSLContext:
    """A client-side SSLContext that verifies servers against one self-signed certificate."""
    return ssl.create_default_context(cafile=os.fspath(cert_path))


class TestCA:
    """A certificate authority of its own, written to `directory/ca.pem`, that issues server
    certificates for any names; trust `ca_path` (never the system) to verify them."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._folder = Path(directory)
        self._folder.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Misiva test CA")])
        public = self._key.public_key()
        self._cert = (
            _builder(self._name, public)
            .issuer_name(self._name)
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_path = self._folder / "ca.pem"
        self.ca_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, *names: str) -> tuple[Path, Path]:
        """A server certificate (with the chain's key) for DNS names or IP addresses."""
        key = ec.generate_private_key(ec.SECP256R1())
        alt: list[x509.GeneralName] = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        issuer_key = self._cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        cert = (
            _builder(subject, key.public_key())
            .issuer_name(self._name)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_key.value),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        stem = names[0].replace(":", "_")
        cert_path, key_path = self._folder / f"{stem}.cert.pem", self._folder / f"{stem}.key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path

    def server_context(self, *names: str) -> ssl.SSLContext:
        """A server-side SSLContext presenting a certificate issued for `names`."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self.issue(*names))
        return context


def _builder(subject: x509.Name, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
    )
