"""The xmlsec1 binary that checks SAML signatures, through pysaml2's xmlsec1 backend."""

import functools
import os
import shutil
import tempfile

from saml2.sigver import CryptoBackendXmlSec1, SignatureError, XmlsecError

from .base import SamlError, XmlsecMissingError

def _find_xmlsec1():
    configured = os.environ.get("XMLSEC1_BINARY")
    candidates = [configured] if configured else []
    candidates += [
        shutil.which("xmlsec1"),
        "/usr/bin/xmlsec1",
        "/usr/local/bin/xmlsec1",
        "/opt/homebrew/bin/xmlsec1",
    ]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


XMLSEC1_MISSING = (
    "xmlsec1 not found: SAML sign-in tests cannot verify signatures. Install it "
    "(Debian/Ubuntu: apt-get install xmlsec1; macOS: brew install libxmlsec1) "
    "or set XMLSEC1_BINARY to its path."
)
XMLSEC1_FIX = "Install xmlsec1 on every Roster server (Debian/Ubuntu: apt-get install xmlsec1)."


class _XmlSec1(CryptoBackendXmlSec1):
    """pysaml2's xmlsec1 backend, asking the binary for its version once instead of twice per check."""

    @functools.cached_property
    def version(self):
        """Return the xmlsec1 version (one `xmlsec1 --version` run per backend)."""
        return super().version


@functools.lru_cache(maxsize=1)
def _backend():
    binary = _find_xmlsec1()
    if binary is None:
        raise XmlsecMissingError(XMLSEC1_MISSING)
    return _XmlSec1(binary)


def xmlsec_available():
    """Return True when the xmlsec1 binary that verifies SAML signatures can be run."""
    try:
        return bool(_backend().version_nums)
    except (SamlError, OSError, ValueError):
        return False


def xmlsec_status():
    """Return a one-line start-up message saying whether and where xmlsec1 was found."""
    binary = _find_xmlsec1()
    if binary is None:
        return XMLSEC1_MISSING
    backend = _backend()
    if backend.xmlsec != binary:
        backend = _XmlSec1(binary)
    try:
        version = backend.version
    except OSError as exc:
        return f"xmlsec1 at {backend.xmlsec} cannot be run: {exc}"
    return f"xmlsec1 {version} found at {backend.xmlsec}"


# Signatures


def _verify(data, cert, node_name, node_id):
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
        handle.write(cert.pem)
        path = handle.name
    try:
        return bool(_backend().validate_signature(data, path, "pem", node_name, node_id))
    except (SignatureError, XmlsecError):
        return False
    finally:
        os.unlink(path)


def _verify_with_any(data, certs, node_name, node_id):
    return any(_verify(data, cert, node_name, node_id) for cert in certs)
