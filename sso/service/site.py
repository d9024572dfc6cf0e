"""Where Roster is reachable for an SSO connection (SP entityID, ACS URL, redirect URI) and the box that seals
its secrets with SECRET_KEY."""

import base64
import dataclasses
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from models.services import InvalidError
from sso.fetch import fetch_url
from sso.saml import NAMEID_EMAIL, sp_metadata


@dataclasses.dataclass(frozen=True)
class Site:
    """Where Roster is reachable (PUBLIC_URL), the key that seals secrets (SECRET_KEY) and the operator's network
    policy (SSO_ALLOW_PRIVATE_NETWORK: private and loopback IdPs; never a workspace setting)."""

    public_url: str
    secret_key: str
    allow_private_network: bool = False
    dns_nameservers: tuple = ()  # SSO_DNS_NAMESERVERS: where domain verification asks for TXT records

    @classmethod
    def from_config(cls, config):
        """Return the Site an app's configuration describes (PUBLIC_URL, SECRET_KEY, SSO_ALLOW_PRIVATE_NETWORK)."""
        return cls(config["PUBLIC_URL"], config["SECRET_KEY"], bool(config.get("SSO_ALLOW_PRIVATE_NETWORK")),
                   tuple(config.get("SSO_DNS_NAMESERVERS") or ()))

    def fetch(self, url, **kwargs):
        """Fetch a URL an IdP configuration names, under the operator's network policy (sso.fetch)."""
        return fetch_url(url, allow_private_network=self.allow_private_network, **kwargs)

    def sp_entity_id(self, connection):
        """Return the SAML SP entityID of a connection (its metadata URL)."""
        return f"{self.public_url}/sso/{connection.id}/metadata"

    def acs_url(self, connection):
        """Return the SAML Assertion Consumer Service URL of a connection."""
        return f"{self.public_url}/sso/{connection.id}/acs"

    def redirect_uri(self, connection):
        """Return the OIDC redirect URI of a connection."""
        return f"{self.public_url}/sso/{connection.id}/callback"

    def service_provider(self, connection):
        """Return what to enter at the IdP for a connection: SAML entityID, ACS URL, NameID; OIDC redirect URI."""
        if connection.provider == "saml":
            return {"entity_id": self.sp_entity_id(connection), "acs_url": self.acs_url(connection),
                    "metadata_url": self.sp_entity_id(connection), "nameid_format": NAMEID_EMAIL}
        return {"redirect_uri": self.redirect_uri(connection)}

    def sp_metadata(self, connection):
        """Return the SP metadata XML of a SAML connection (entityID, ACS URL, NameID format)."""
        return sp_metadata(self.sp_entity_id(connection), self.acs_url(connection), NAMEID_EMAIL)

    def _fernet(self):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"roster-sso-secret-box",
                   info=b"sso-connection-secrets").derive(self.secret_key.encode("utf-8"))
        return Fernet(base64.urlsafe_b64encode(key))

    def seal(self, text):
        """Encrypt a secret for storage."""
        return self._fernet().encrypt(text.encode("utf-8")).decode("ascii")

    def unseal(self, token):
        """Decrypt a stored secret; a SECRET_KEY change makes it unreadable (an error naming the fix)."""
        try:
            return self._fernet().decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise InvalidError("The stored client secret cannot be decrypted (was SECRET_KEY changed?): "
                               "set client_secret again") from exc


def hash_state(state):
    """Return the SHA-256 hex of a RelayState / OIDC state (only the hash is stored)."""
    return hashlib.sha256(state.encode("utf-8")).hexdigest()
