"""The checks of a SAML assertion once its signature holds: subject confirmation, time conditions, audience,
authentication statement and the profile (NameID, email, names) read from it."""

import re
from datetime import timedelta

from ..checks import FAIL, PASS, Check, check_email_domain
from .base import CM_BEARER, NAMEID_EMAIL, NS_SAML, _iso, _parse_instant, _q, _text

MAX_ASSERTION_AGE = timedelta(minutes=10)

# The names IdPs give email and name attributes, in their three forms: friendly (Okta, OneLogin, Google),
# URI (Entra ID / ADFS claim types; Shibboleth's urn:mace:dir:attribute-def names) and OID (the
# urn:oid: names of eduPerson/inetOrgPerson, RFC 4519, and PKCS#9 emailAddress, RFC 2985 §5.2.3, which
# SimpleSAMLphp's name2oid map sends for "email"). Compared case-insensitively.
EMAIL_ATTRIBUTES = (
    "email",
    "mail",
    "emailaddress",
    "e-mail",
    "user.email",
    "useremail",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "http://schemas.xmlsoap.org/claims/emailaddress",
    "urn:mace:dir:attribute-def:mail",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "urn:oid:1.2.840.113549.1.9.1",
)
GIVEN_NAME_ATTRIBUTES = (
    "givenname",
    "firstname",
    "first_name",
    "given_name",
    "user.firstname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "urn:mace:dir:attribute-def:givenname",
    "urn:oid:2.5.4.42",
)
FAMILY_NAME_ATTRIBUTES = (
    "surname",
    "sn",
    "lastname",
    "last_name",
    "familyname",
    "family_name",
    "user.lastname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "urn:mace:dir:attribute-def:sn",
    "urn:oid:2.5.4.4",
)
DISPLAY_NAME_ATTRIBUTES = (
    "displayname",
    "name",
    "cn",
    "commonname",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "http://schemas.xmlsoap.org/claims/commonname",
    "urn:mace:dir:attribute-def:displayname",
    "urn:mace:dir:attribute-def:cn",
    "urn:oid:2.16.840.1.113730.3.1.241",
    "urn:oid:2.5.4.3",
)
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _attributes(assertion):
    attributes = {}
    for statement in assertion.findall(_q(NS_SAML, "AttributeStatement")):
        for attribute in statement.findall(_q(NS_SAML, "Attribute")):
            name = attribute.get("Name") or ""
            values = [_text(v) for v in attribute.findall(_q(NS_SAML, "AttributeValue"))]
            attributes.setdefault(name, []).extend(v for v in values if v is not None)
            friendly = attribute.get("FriendlyName")
            if friendly and friendly != name:
                attributes.setdefault(friendly, []).extend(v for v in values if v is not None)
    return attributes


def _first_attribute(attributes, names):
    lowered = {key.lower(): values for key, values in attributes.items()}
    for name in names:
        for value in lowered.get(name, []):
            if value:
                return value
    return None


def _extract_profile(assertion):
    name_id = assertion.find(f"{_q(NS_SAML, 'Subject')}/{_q(NS_SAML, 'NameID')}")
    attributes = _attributes(assertion)
    authn = assertion.find(_q(NS_SAML, "AuthnStatement"))
    return {
        "name_id": _text(name_id),
        "name_id_format": name_id.get("Format") if name_id is not None else None,
        "email": None,
        "given_name": _first_attribute(attributes, GIVEN_NAME_ATTRIBUTES),
        "family_name": _first_attribute(attributes, FAMILY_NAME_ATTRIBUTES),
        "display_name": _first_attribute(attributes, DISPLAY_NAME_ATTRIBUTES),
        "session_index": authn.get("SessionIndex") if authn is not None else None,
        "attributes": attributes,
    }


class _Stop(Exception):
    pass


class _AssertionChecks:
    """The assertion-level steps of _ResponseVerifier (sso/saml/response.py), which holds the state they use."""

    def add(self, check_id, stage, status, message, fix=None, detail=None):
        self.checks.append(Check(check_id, stage, status, message, fix=fix, detail=detail))

    def stop(self, check_id, stage, message, fix=None, detail=None):
        self.add(check_id, stage, FAIL, message, fix=fix, detail=detail)
        raise _Stop()

    def _check_time(self, check_id, stage, label, not_before, not_on_or_after):
        try:
            start = _parse_instant(not_before)
            end = _parse_instant(not_on_or_after)
        except ValueError as exc:
            self.stop(check_id, stage, f"{label}: {exc}")
        if start is not None and self.now + self.skew < start:
            self.stop(
                check_id,
                stage,
                f"{label} is not valid before {_iso(start)} (now {_iso(self.now)})",
                fix="Check the clocks of the IdP and of Roster (NTP).",
                detail={"not_before": _iso(start), "now": _iso(self.now)},
            )
        if end is not None and self.now - self.skew >= end:
            self.stop(
                check_id,
                stage,
                f"{label} expired at {_iso(end)} (now {_iso(self.now)})",
                fix="Sign in again; if it keeps happening, check the clocks of the IdP and of Roster (NTP).",
                detail={"not_on_or_after": _iso(end), "now": _iso(self.now)},
            )
        return start, end

    def _check_subject_confirmation(self, root, assertion, response_signed):
        stage = "assertion"
        subject = assertion.find(_q(NS_SAML, "Subject"))
        if subject is None:
            self.stop("saml.assertion.subject", stage, "The assertion has no Subject")
        bearers = [
            c for c in subject.findall(_q(NS_SAML, "SubjectConfirmation")) if c.get("Method") == CM_BEARER
        ]
        if not bearers:
            self.stop(
                "saml.assertion.subject_confirmation",
                stage,
                "The assertion has no bearer SubjectConfirmation",
            )
        # SAML 2.0 Profiles §4.1.4.2: bearer confirmation data has Recipient, NotOnOrAfter, InResponseTo.
        data = bearers[0].find(_q(NS_SAML, "SubjectConfirmationData"))
        if data is None:
            self.stop(
                "saml.assertion.subject_confirmation",
                stage,
                "The bearer confirmation has no SubjectConfirmationData",
            )
        recipient = data.get("Recipient")
        if recipient != self.acs_url:
            self.stop(
                "saml.assertion.recipient",
                stage,
                f"The assertion's Recipient is {recipient!r}, not this connection's ACS URL {self.acs_url}",
                fix="Set the ACS (reply) URL in the IdP to exactly the one in Roster's SP metadata.",
                detail={"recipient": recipient, "expected": self.acs_url},
            )
        self.add("saml.assertion.recipient", stage, PASS, "Recipient is this connection's ACS URL")
        if data.get("NotOnOrAfter") is None:
            self.stop(
                "saml.assertion.subject_confirmation", stage, "The bearer confirmation has no NotOnOrAfter"
            )
        self._check_time(
            "saml.assertion.subject_confirmation",
            stage,
            "The bearer confirmation",
            data.get("NotBefore"),
            data.get("NotOnOrAfter"),
        )
        self.add(
            "saml.assertion.subject_confirmation",
            stage,
            PASS,
            "The bearer confirmation is within its validity",
        )
        self._check_in_response_to(root, data, response_signed)

    def _check_in_response_to(self, root, data, response_signed):
        stage = "response"
        confirmation_value = data.get("InResponseTo")
        response_value = root.get("InResponseTo")
        trusted = confirmation_value or (response_value if response_signed else None)
        if trusted is None:
            self.stop(
                "saml.response.in_response_to",
                stage,
                "The response is unsolicited (IdP-initiated): it answers no request Roster sent",
                fix="Start the test from Roster, not from the IdP's app dashboard.",
            )
        for value in (confirmation_value, response_value):
            if value is not None and value != self.expected_request_id:
                self.stop(
                    "saml.response.in_response_to",
                    stage,
                    f"The response answers request {value!r}, not this test's request",
                    fix="Start a new test and complete it in the same browser.",
                    detail={"in_response_to": value, "expected": self.expected_request_id},
                )
        self.add("saml.response.in_response_to", stage, PASS, "The response answers this test's AuthnRequest")

    def _check_conditions(self, assertion):
        stage = "assertion"
        conditions = assertion.find(_q(NS_SAML, "Conditions"))
        if conditions is None:
            self.stop(
                "saml.assertion.audience", stage, "The assertion has no Conditions (and so no audience)"
            )
        self._check_time(
            "saml.assertion.validity",
            stage,
            "The assertion",
            conditions.get("NotBefore"),
            conditions.get("NotOnOrAfter"),
        )
        try:
            issued = _parse_instant(assertion.get("IssueInstant"))
        except ValueError as exc:
            self.stop("saml.assertion.validity", stage, f"IssueInstant: {exc}")
        if issued is None:
            self.stop("saml.assertion.validity", stage, "The assertion has no IssueInstant")
        if issued > self.now + self.skew:
            self.stop(
                "saml.assertion.validity",
                stage,
                f"The assertion was issued in the future ({_iso(issued)})",
                fix="Check the clocks of the IdP and of Roster (NTP).",
            )
        if self.now - issued > MAX_ASSERTION_AGE + self.skew:
            self.stop(
                "saml.assertion.validity",
                stage,
                f"The assertion is too old (issued {_iso(issued)})",
                fix="Sign in again.",
            )
        self.add("saml.assertion.validity", stage, PASS, "The assertion is within its validity period")
        restrictions = conditions.findall(_q(NS_SAML, "AudienceRestriction"))
        if not restrictions:
            # SAML 2.0 Profiles §4.1.4.2: the assertion MUST contain an AudienceRestriction naming the SP.
            self.stop(
                "saml.assertion.audience",
                stage,
                "The assertion has no AudienceRestriction",
                fix=f"Set the audience (SP entity ID) in the IdP to {self.sp_entity_id}.",
            )
        for restriction in restrictions:
            audiences = [_text(a) for a in restriction.findall(_q(NS_SAML, "Audience"))]
            if self.sp_entity_id not in audiences:
                self.stop(
                    "saml.assertion.audience",
                    stage,
                    f"The assertion is meant for {', '.join(a or '?' for a in audiences)}, not for this "
                    f"connection ({self.sp_entity_id})",
                    fix=f"Set the audience (SP entity ID) in the IdP to {self.sp_entity_id}.",
                    detail={"audiences": audiences, "expected": self.sp_entity_id},
                )
        self.add("saml.assertion.audience", stage, PASS, f"The audience is {self.sp_entity_id}")

    def _check_authn_statement(self, assertion):
        if assertion.find(_q(NS_SAML, "AuthnStatement")) is None:
            self.stop("saml.assertion.authn_statement", "assertion", "The assertion has no AuthnStatement")
        self.add(
            "saml.assertion.authn_statement", "assertion", PASS, "The assertion records an authentication"
        )

    def _check_profile(self):
        stage = "profile"
        profile = self.profile
        attributes = profile["attributes"]
        if not profile["name_id"]:
            self.stop(
                "saml.profile.name_id",
                stage,
                "The assertion carries no NameID",
                fix="Configure the IdP to send a NameID (emailAddress format).",
            )
        self.add(
            "saml.profile.name_id",
            stage,
            PASS,
            f"NameID {profile['name_id']}",
            detail={"format": profile["name_id_format"]},
        )
        email = _first_attribute(attributes, EMAIL_ATTRIBUTES)
        if not email and (
            profile["name_id_format"] == NAMEID_EMAIL or EMAIL_PATTERN.match(profile["name_id"])
        ):
            email = profile["name_id"]
        if not email or not EMAIL_PATTERN.match(email):
            self.stop(
                "saml.profile.email",
                stage,
                "The assertion carries no email address",
                fix="Send the email as NameID (emailAddress format) or as an 'email' attribute.",
                detail={"attributes": sorted(attributes)},
            )
        profile["email"] = email
        self.add("saml.profile.email", stage, PASS, f"Email {email}")
        domain_check = check_email_domain(email, self.allowed_domains, "saml.profile.email_domain", stage)
        self.checks.append(domain_check)
        if domain_check.status == FAIL:
            raise _Stop()
