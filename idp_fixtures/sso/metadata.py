"""Render IdP metadata from our templates in the shapes of Okta, Entra ID, Google and OneLogin."""

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import textwrap
import uuid
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
SHAPES = ("okta", "entra", "google", "onelogin")
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"


def default_entity_id(shape):
    """Return an entityID in the style the vendor uses."""
    if shape == "okta":
        return f"http://www.okta.com/exk{secrets.token_hex(8)}"
    if shape == "entra":
        return f"https://sts.windows.net/{uuid.uuid4()}/"
    if shape == "google":
        return f"https://accounts.google.com/o/saml2?idpid=C0{secrets.token_hex(4)}"
    if shape == "onelogin":
        return f"https://app.onelogin.com/saml/metadata/{uuid.uuid4()}"
    raise ValueError(f"unknown metadata shape {shape!r}; one of {', '.join(SHAPES)}")


def render_metadata(
    shape, *, entity_id, sso_url, certificate_b64, key_pem=None, valid_until=None, sha1=False
):
    """Return IdP metadata XML of a vendor shape; Entra's shape is signed with key_pem like the real one."""
    if shape not in SHAPES:
        raise ValueError(f"unknown metadata shape {shape!r}; one of {', '.join(SHAPES)}")
    with open(os.path.join(TEMPLATES, f"{shape}.xml"), encoding="utf-8") as handle:
        template = handle.read()
    wrapped = "\n".join(textwrap.wrap(certificate_b64, 64))
    values = {
        "entity_id": entity_id,
        "sso_redirect_url": sso_url,
        "sso_post_url": sso_url,
        "sso_soap_url": sso_url.rstrip("/") + "/soap",
        "slo_url": sso_url.rstrip("/") + "/logout",
        "certificate": certificate_b64,
        "certificate_wrapped": wrapped,
        "metadata_id": f"_{uuid.uuid4()}",
        "valid_until": (valid_until or datetime.now(timezone.utc) + timedelta(days=30)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z"
        ),
        "signature_method": RSA_SHA1 if sha1 else RSA_SHA256,
        "digest_method": SHA1 if sha1 else SHA256,
    }
    xml = re.sub(r"\{\{(\w+)\}\}", lambda m: escape(values[m.group(1)], {'"': "&quot;"}), template)
    if "<SignatureValue></SignatureValue>" in xml:
        if key_pem is None:
            raise ValueError(f"the {shape} shape is signed: pass key_pem")
        xml = sign_xml(
            xml, key_pem, "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor", values["metadata_id"]
        )
    return xml


def sign_xml(xml, key_pem, node_name, node_id):
    """Sign the ds:Signature template inside an XML document with xmlsec1 and return the signed XML."""
    binary = shutil.which("xmlsec1")
    if binary is None:
        raise RuntimeError("xmlsec1 is not installed")
    with tempfile.TemporaryDirectory(prefix="roster-sign-") as directory:
        key_path = os.path.join(directory, "key.pem")
        in_path = os.path.join(directory, "in.xml")
        out_path = os.path.join(directory, "out.xml")
        with open(key_path, "w") as handle:
            handle.write(key_pem)
        with open(in_path, "w", encoding="utf-8") as handle:
            handle.write(xml)
        command = [
            binary,
            "--sign",
            "--privkey-pem",
            key_path,
            "--id-attr:ID",
            node_name,
            "--node-id",
            node_id,
            "--output",
            out_path,
            in_path,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"xmlsec1 could not sign: {result.stderr}")
        with open(out_path, encoding="utf-8") as handle:
            return handle.read()
