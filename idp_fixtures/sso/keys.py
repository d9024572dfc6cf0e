"""Make signing keys and self-signed certificates for the test IdPs at test time."""

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


@dataclass
class SigningKey:
    """A private key with its self-signed certificate, as PEM strings and temp files for xmlsec1."""

    key_pem: str
    cert_pem: str
    private_key: object
    certificate: object

    @property
    def cert_b64(self):
        """Return the certificate body as it appears in ds:X509Certificate."""
        lines = self.cert_pem.strip().splitlines()
        return "".join(line for line in lines if not line.startswith("-----"))

    @property
    def public_key(self):
        """Return the public key object."""
        return self.private_key.public_key()

    def write(self, directory):
        """Write key.pem and cert.pem into a directory and return their paths."""
        key_path = os.path.join(directory, f"key-{id(self)}.pem")
        cert_path = os.path.join(directory, f"cert-{id(self)}.pem")
        with open(key_path, "w") as handle:
            handle.write(self.key_pem)
        with open(cert_path, "w") as handle:
            handle.write(self.cert_pem)
        return key_path, cert_path


def make_signing_key(
    common_name="Roster Test IdP", *, kind="rsa", bits=2048, not_before=None, not_after=None, valid_days=365
):
    """Return a new SigningKey with a self-signed certificate valid from not_before to not_after."""
    if kind == "rsa":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    elif kind == "ec":
        private_key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unknown key kind {kind!r}")
    now = datetime.now(timezone.utc)
    not_before = not_before or now - timedelta(days=1)
    not_after = not_after or now + timedelta(days=valid_days)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Roster test fixtures"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(private_key, hashes.SHA256())
    )
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return SigningKey(key_pem=key_pem, cert_pem=cert_pem, private_key=private_key, certificate=certificate)


def temp_dir():
    """Return a new private temporary directory for key files."""
    return tempfile.mkdtemp(prefix="roster-idp-")
