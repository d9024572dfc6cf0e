"""Normalise SCIM POST/PUT bodies into the stored document shape (RFC 7643, RFC 7644 §3.3, §3.5.1).

The stored document ("doc") holds core and common attributes at the top level under their canonical
names, and extension attributes nested under the canonical extension URN:

    {"userName": "bjensen", "name": {"givenName": "Barbara"}, "emails": [{"value": ..., "type": "work"}],
     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "2819c223"}}}

Rules, in the order a body meets them:

- Attribute and sub-attribute names are matched case-insensitively and stored in canonical case
  (RFC 7643 §2.1; Entra sends "UserName"). The same attribute twice in different case is a 400.
- `schemas`, `id` and `meta` are dropped (so is a `schemas` inside an extension object that names only that
  extension); read-only attributes (`groups`, `manager.displayName`,
  `members.display`) are tolerated and never stored; `password` is write-only: accepted, never stored
  (RFC 7644 §3.5.1: read-only values in a write "SHALL be ignored").
- JSON null, an empty list and an empty complex value all mean "unassigned" (RFC 7643 §2.5) and are
  left out (Entra sends `"addresses": null`); `"$ref": null` in a member is therefore fine.
- Unknown schema URIs in `schemas` are ignored, and so is a top-level key that is an unknown schema URN
  (an extension Roster does not implement, such as Entra's ADSCIM Group URN).
- Unknown attributes of a *known* schema are rejected with 400 invalidValue naming every one of them:
  silently dropping a misspelt attribute would lose data the IdP believes it stored. A known extension
  attribute given at the top level instead of under its URN, and a fully qualified key such as
  "urn:...:User:userName", are rejected the same way with a message saying where it belongs.
- Values are type-checked per RFC 7643 §2.3: string, boolean, integer, decimal, dateTime (xsd:dateTime,
  ISO 8601 with a time), reference, binary (base64), complex (an object) and multi-valued (a list). A
  single object where a list is expected is a 400. Values are stored as sent (a phone number stays as
  typed); canonical values are not enforced (RFC 7643 §2.3.1 lets providers accept others).
- Required attributes (User.userName, Group.displayName) must be present and non-blank.
- At most one element of a multi-valued attribute may have `"primary": true` (RFC 7643 §2.4).

Non-RFC shapes tolerated and recorded by quirk name (scim/quirks.py), refused with 400 when strict:
booleans sent as "True"/"False" (`entra.boolean_as_string`) and the enterprise manager sent as a bare id
string or a one-element list (`entra.manager_bare_string`), both stored in their RFC form.
"""

import base64
import binascii
from datetime import datetime

from . import quirks as quirk_names
from . import schema
from .constants import ENTERPRISE_USER_SCHEMA
from .errors import InvalidSyntaxError, InvalidValueError, MutabilityError
from .quirks import QuirkRecorder

_DROPPED_KEYS = frozenset({"schemas", "id", "meta"})


def _is_manager(attr):
    """Tell whether `attr` is the enterprise extension's manager attribute."""
    return attr.schema == ENTERPRISE_USER_SCHEMA and attr.name == "manager"


def _coerce_manager(value, recorder, label):
    """Turn Entra's bare-string or one-element-list manager into the RFC {"value": id} form."""
    if isinstance(value, str):
        # Entra sends the manager id as a bare string (idp_fixtures/entra/scim/08-set-manager.json).
        recorder.tolerate(quirk_names.ENTRA_MANAGER_BARE_STRING,
                          f"Attribute '{label}' must be an object {{\"value\": id}}, not a string")
        return {"value": value} if value else None
    if isinstance(value, list):
        # Entra's older tutorial shape: [{"$ref": ..., "value": ...}].
        recorder.tolerate(quirk_names.ENTRA_MANAGER_BARE_STRING,
                          f"Attribute '{label}' is single-valued: send an object, not a list")
        items = [v for v in value if v is not None]
        if not items:
            return None
        if len(items) > 1 or not isinstance(items[0], dict):
            raise InvalidValueError(f"Attribute '{label}' takes one manager object {{\"value\": id}}")
        found = {k.lower(): v for k, v in items[0].items()}
        manager_id = found.get("value")
        if manager_id is None:
            raise InvalidValueError(f"Attribute '{label}.value' is required")
        return {"value": manager_id}
    return value


def is_extension_schemas(urn, key, value):
    """Tell whether `key: value` inside extension object `urn` is a `schemas` list naming only that extension.

    Clients that model an extension as its own object (scim2-models does) send it with its `schemas`;
    like the resource's top-level `schemas` it is metadata, not an attribute, and is ignored. A `schemas`
    naming anything else is no such list and stays an unknown attribute.
    """
    if not isinstance(key, str) or key.lower() != "schemas":
        return False
    return (isinstance(value, list) and bool(value)
            and all(isinstance(item, str) and item.lower() == urn.lower() for item in value))


def _check_datetime(value, label):
    """Raise unless `value` is an xsd:dateTime string (RFC 7643 §2.3.5)."""
    if not isinstance(value, str) or "T" not in value.upper():
        raise InvalidValueError(f"Attribute '{label}' must be an ISO 8601 date-time such as "
                                f"2011-08-01T21:32:44.882Z")
    text = value[:-1] + "+00:00" if value.upper().endswith("Z") else value
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValueError(f"Attribute '{label}' must be an ISO 8601 date-time such as "
                                f"2011-08-01T21:32:44.882Z") from None


def normalize_scalar(attr, value, recorder, label):
    """Type-check one simple value of `attr`; return it in stored form, or None when unassigned."""
    if value is None:
        return None
    kind = attr.type
    if kind == schema.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            # Entra's default PATCH sends "False"/"True" (idp_fixtures/entra/scim/15-disable.json).
            recorder.tolerate(quirk_names.ENTRA_BOOLEAN_AS_STRING,
                              f"Attribute '{label}' must be a JSON boolean, not the string {value!r}")
            return value.strip().lower() == "true"
        raise InvalidValueError(f"Attribute '{label}' must be a boolean")
    if kind == schema.INTEGER:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InvalidValueError(f"Attribute '{label}' must be an integer")
    if kind == schema.DECIMAL:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise InvalidValueError(f"Attribute '{label}' must be a number")
    if kind == schema.DATETIME:
        _check_datetime(value, label)
        return value
    if kind == schema.BINARY:
        if isinstance(value, str):
            try:
                base64.b64decode(value, validate=True)
                return value
            except (binascii.Error, ValueError):
                pass
        raise InvalidValueError(f"Attribute '{label}' must be base64-encoded binary data")
    if kind in (schema.STRING, schema.REFERENCE):
        if isinstance(value, str):
            if "\x00" in value:
                # PostgreSQL cannot store NUL in text; no SCIM string needs one.
                raise InvalidValueError(f"Attribute '{label}' must not contain NUL characters")
            return value
        raise InvalidValueError(f"Attribute '{label}' must be a string")
    raise InvalidValueError(f"Attribute '{label}' must be an object")


def normalize_complex(attr, value, recorder, label):
    """Type-check one complex value (an object of sub-attributes); return it or None when empty."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidValueError(f"Attribute '{label}' must be an object")
    out = {}
    unknown = []
    for key, sub_value in value.items():
        sub = attr.sub(key) if isinstance(key, str) else None
        if sub is None:
            unknown.append(f"{label}.{key}")
            continue
        if sub.mutability == schema.READ_ONLY or sub_value is None:
            continue
        if sub.name in out:
            raise InvalidValueError(f"Attribute '{label}.{sub.name}' is given twice")
        normalized = normalize_scalar(sub, sub_value, recorder, f"{label}.{sub.name}")
        if normalized is not None:
            out[sub.name] = normalized
    if unknown:
        raise InvalidValueError(f"Unknown attribute(s): {', '.join(unknown)}")
    return out or None


def check_single_primary(attr, elements, label):
    """Raise unless at most one element has primary true (RFC 7643 §2.4)."""
    if attr.sub("primary") is None:
        return
    if sum(1 for e in elements if e.get("primary") is True) > 1:
        raise InvalidValueError(f"Attribute '{label}' has more than one value with \"primary\": true")


def normalize_value(attr, value, recorder, label=None):
    """Type-check and canonicalise a value of top-level `attr`; return it, or None when unassigned."""
    label = label or attr.name
    if value is None:
        return None
    if _is_manager(attr):
        value = _coerce_manager(value, recorder, label)
    if attr.multi_valued:
        if not isinstance(value, list):
            raise InvalidValueError(f"Attribute '{label}' is multi-valued: its value must be a list")
        elements = []
        for item in value:
            if attr.is_complex:
                normalized = normalize_complex(attr, item, recorder, label)
            else:
                normalized = normalize_scalar(attr, item, recorder, label)
            if normalized is not None:
                elements.append(normalized)
        check_single_primary(attr, elements, label)
        return elements or None
    if isinstance(value, list):
        raise InvalidValueError(f"Attribute '{label}' is single-valued: its value must not be a list")
    if attr.is_complex:
        return normalize_complex(attr, value, recorder, label)
    return normalize_scalar(attr, value, recorder, label)


def is_blank(value):
    """Tell whether a required value counts as missing."""
    return value is None or (isinstance(value, str) and not value.strip())


def member_ids(value):
    """Return the distinct member ids of a `members` value (a list of {"value": id}, or one such object)."""
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise InvalidValueError("'members' must be a list of objects like {\"value\": \"<user id>\"}")
    ids = []
    for item in items:
        if item is None:
            continue
        found = {}
        if isinstance(item, dict):
            found = {k.lower(): v for k, v in item.items() if isinstance(k, str)}
        member_id = found.get("value")
        if not isinstance(member_id, str) or not member_id:
            raise InvalidValueError("Every element of 'members' needs a \"value\": the id of a User")
        ids.append(member_id)
    return list(dict.fromkeys(ids))


def normalize_resource(resource_type, body, *, strict=False):
    """Validate a POST/PUT body and return (doc, quirks): the stored document and the quirks applied."""
    if not isinstance(body, dict):
        raise InvalidSyntaxError("The request body must be a JSON object")
    recorder = QuirkRecorder(strict)
    urns = schema.schema_for(resource_type)
    core = urns[0]
    doc = {}
    unknown = []
    misplaced = []

    def store(container, attr, raw, label):
        if attr.name in container:
            raise InvalidValueError(f"Attribute '{label}' is given twice")
        if attr.mutability in (schema.READ_ONLY, schema.WRITE_ONLY):
            return
        if attr.name == "members" and isinstance(raw, list):
            # A member with only read-only or null sub-attributes would vanish silently: reject it instead.
            for member in raw:
                if isinstance(member, dict) and not any(
                        isinstance(k, str) and k.lower() == "value" and v for k, v in member.items()):
                    raise InvalidValueError("Every element of 'members' needs a \"value\": the id of a User")
        value = normalize_value(attr, raw, recorder, label)
        if value is not None:
            container[attr.name] = value

    for key, raw in body.items():
        if not isinstance(key, str):
            unknown.append(str(key))
            continue
        lower = key.lower()
        if lower in _DROPPED_KEYS:
            continue
        urn = schema.canonical_urn(resource_type, key)
        if urn is not None and urn != core:
            if raw is None:
                continue
            if not isinstance(raw, dict):
                raise InvalidValueError(f"Extension '{urn}' must be an object of its attributes")
            container = doc.setdefault(urn, {})
            for sub_key, sub_raw in raw.items():
                if is_extension_schemas(urn, sub_key, sub_raw):
                    continue
                attr = schema.resolve(resource_type, urn, sub_key) if isinstance(sub_key, str) else None
                if attr is None:
                    unknown.append(f"{urn}:{sub_key}")
                    continue
                store(container, attr, sub_raw, f"{urn}:{attr.name}")
            if not container:
                del doc[urn]
            continue
        if urn == core or lower.startswith("urn:"):
            qualified = next((u for u in urns if lower.startswith(u.lower() + ":")), None)
            if urn == core or qualified:
                misplaced.append(f"'{key}' (send attributes by name; extension attributes nested under "
                                 f"their schema URN)")
            # Any other URN key is an extension Roster does not implement: ignored (Entra's ADSCIM URN).
            continue
        attr = schema.resolve(resource_type, None, key)
        if attr is None:
            unknown.append(key)
            continue
        if attr.schema != core:
            misplaced.append(f"'{key}' (belongs under \"{attr.schema}\")")
            continue
        store(doc, attr, raw, attr.name)

    if unknown:
        raise InvalidValueError(f"Unknown attribute(s) for {schema.resource_type_name(resource_type)}: "
                                f"{', '.join(unknown)}")
    if misplaced:
        raise InvalidValueError(f"Misplaced attribute(s): {'; '.join(misplaced)}")
    for urn in urns:
        container = doc if urn == core else doc.get(urn, {})
        for attr in schema.attributes(resource_type, urn):
            if attr.required and is_blank(container.get(attr.name)):
                raise InvalidValueError(f"Attribute '{attr.name}' is required")
    return doc, recorder.applied


def values_equal(attr, left, right):
    """Compare two stored values of `attr`, honouring caseExact for strings (RFC 7643 §2.2)."""
    if isinstance(left, str) and isinstance(right, str) and not attr.case_exact:
        return left.casefold() == right.casefold()
    if isinstance(left, dict) and isinstance(right, dict):
        if set(left) != set(right):
            return False
        return all(values_equal(attr.sub(k) or attr, left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(values_equal(attr, a, b) for a, b in zip(left, right))
    return type(left) is type(right) and left == right


def check_immutable(resource_type, current, new):
    """Raise MutabilityError when `new` changes an immutable attribute already set in `current`.

    RFC 7643 §2.2 / RFC 7644 §3.5.1: once an immutable attribute has a value, input must match it.
    Sub-attributes count for single-valued complex attributes; elements of multi-valued attributes are
    added or removed whole, so their immutable sub-attributes (Group members) are not compared here.
    """
    core = schema.core_schema(resource_type)
    for urn in schema.schema_for(resource_type):
        old_container = current if urn == core else (current.get(urn) or {})
        new_container = new if urn == core else (new.get(urn) or {})
        for attr in schema.attributes(resource_type, urn):
            old = old_container.get(attr.name)
            fresh = new_container.get(attr.name)
            label = attr.name if urn == core else f"{urn}:{attr.name}"
            if attr.mutability == schema.IMMUTABLE:
                if old is not None and not values_equal(attr, old, fresh):
                    raise MutabilityError(f"Attribute '{label}' is immutable and already has a value")
                continue
            if attr.is_complex and not attr.multi_valued and isinstance(old, dict):
                fresh = fresh if isinstance(fresh, dict) else {}
                for sub in attr.sub_attributes.values():
                    if sub.mutability != schema.IMMUTABLE or old.get(sub.name) is None:
                        continue
                    if not values_equal(sub, old[sub.name], fresh.get(sub.name)):
                        raise MutabilityError(f"Attribute '{label}.{sub.name}' is immutable and already "
                                              f"has a value")
