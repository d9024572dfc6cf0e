"""Apply a SCIM PatchOp (RFC 7644 §3.5.2) to a stored SCIM document; pure, no database.

`apply_patch` works on a deep copy of the stored document (the shape scim.validation.normalize_resource
returns) and either returns the whole result or raises: a PATCH is all-or-nothing.

Decisions where the RFC is silent or IdPs differ:

- `add` on a multi-valued attribute appends only values not already present (RFC 7644 §3.5.2.1
  "no changes SHOULD be made"); a single object is taken as one new value.
- `add` or `replace` on a single-valued complex attribute merges sub-attributes (RFC 7644 §3.5.2.1,
  §3.5.2.3), except for reference-like ones with a `value` sub-attribute (the enterprise `manager`):
  a new manager replaces the old one whole, so no stale `$ref` survives.
- `add` through a value path that matches nothing creates the element from the filter's `eq`
  conditions (§3.5.2.1: "If the target location does not exist, the attribute and value are added").
  `replace` through a value path that matches nothing is 400 noTarget (§3.5.2.3), except Entra's
  `emails[type eq "work"].value` form, which creates the element (`entra.value_path_creates`).
- `replace` of a whole matched element replaces it (§3.5.2.3 "all matching record values SHALL be
  replaced"); with a sub-attribute only that sub-attribute changes.
- `remove` through a value path that matches nothing changes nothing (the RFC names no error; an IdP
  retrying a removal must not fail). `remove` without a path is 400 noTarget (§3.5.2.2); removing a
  required or read-only attribute is 400 mutability (§3.5.2.2). `replace` with null removes.
- A sub-attribute path on a multi-valued attribute without a filter (`emails.value`) is an invalidPath
  for add/replace (which element?) and removes that sub-attribute from every element for remove.
- `primary` stays unique: a value added or replaced with `"primary": true` clears it on the others.
- The write-only `password` is accepted and discarded, never stored.
- Group `members` are not applied to the document (groups may hold 50,000 members): each operation
  becomes an entry of `PatchResult.member_ops`, in request order, for the repository to apply as row
  deltas: ("add", ids), ("remove", ids), ("remove_all",), ("replace", ids), ("remove_filter", node).
  A member filter that is `value eq "id"` or an `or` of those becomes ("remove", ids). Value filters
  that select members cannot be used with add/replace (400 invalidPath).
- `changed` is true when the document differs from the input or any member operation was produced.

IdP quirks are recorded by name in `PatchResult.quirks` (scim/quirks.py) and refused when strict.
"""

import copy
from dataclasses import dataclass, field

from . import quirks as quirk_names
from . import schema
from .errors import (InvalidPathError, InvalidSyntaxError, InvalidValueError, MutabilityError, NoTargetError,
                     ScimError)
from .filters import And, Comparison, Or, leaves, matches
from .paths import parse_patch_path
from .quirks import QuirkRecorder
from .validation import (check_single_primary, is_blank, is_extension_schemas, member_ids, normalize_complex,
                         normalize_scalar, normalize_value, values_equal)

_OPS = ("add", "remove", "replace")
_MISSING = object()


@dataclass
class PatchResult:
    """The outcome of a PATCH: new document, membership deltas, quirks applied, whether anything changed."""

    resource: dict
    member_ops: list = field(default_factory=list)
    quirks: list = field(default_factory=list)
    changed: bool = False


@dataclass(frozen=True)
class _Target:
    """A resolved path: the top-level attribute, an optional sub-attribute and an optional value filter."""

    attr: schema.Attribute
    sub: schema.Attribute = None
    value_filter: object = None
    text: str = ""


class _Patcher:
    """Apply operations one by one to a private copy of a document."""

    def __init__(self, resource_type, resource, strict, resource_id):
        self.resource_type = schema.resource_type_name(resource_type)
        self.core = schema.core_schema(resource_type)
        self.doc = copy.deepcopy(resource)
        self.recorder = QuirkRecorder(strict)
        self.resource_id = resource_id
        self.member_ops = []

    def container(self, attr, create=False):
        """Return the dict holding `attr` (the document or its extension object)."""
        if attr.schema == self.core:
            return self.doc
        if create:
            return self.doc.setdefault(attr.schema, {})
        return self.doc.get(attr.schema) or {}

    def label(self, attr, sub=None):
        """Name an attribute in error messages."""
        text = attr.name if attr.schema == self.core else f"{attr.schema}:{attr.name}"
        return f"{text}.{sub.name}" if sub is not None else text

    def operation(self, raw):
        """Apply one element of Operations."""
        if not isinstance(raw, dict):
            raise InvalidSyntaxError("Each operation must be an object with \"op\", \"path\" and \"value\"")
        # RFC 7643 §2.1: attribute names, including those of the PatchOp message, are case-insensitive.
        fields = {key.lower(): value for key, value in raw.items() if isinstance(key, str)}
        op = fields.get("op")
        if not isinstance(op, str) or op.lower() not in _OPS:
            raise InvalidSyntaxError(f"Invalid op {op!r}: expected \"add\", \"remove\" or \"replace\"")
        if op != op.lower():
            # Entra sends "Add", "Replace", "Remove" (idp_fixtures/entra/scim/15-disable.json).
            self.recorder.tolerate(quirk_names.ENTRA_OP_CASE, f"Invalid op {op!r}: operations are lower-case",
                                   error=InvalidSyntaxError)
        op = op.lower()
        value = fields.get("value", _MISSING)
        path = fields.get("path")
        if path is None:
            self.no_path(op, value)
            return
        if not isinstance(path, str):
            raise InvalidPathError("The path must be a string")
        urn = schema.canonical_urn(self.resource_type, path.strip())
        if urn is not None and urn != self.core:
            self.extension(op, urn, value)
            return
        self.apply(op, self.resolve(parse_patch_path(path), path), value)

    def extension(self, op, urn, value):
        """Apply an operation whose path is a whole extension URN (RFC 7644 §3.5.2, attrPath = URI).

        add and replace take an object of the extension's attributes and set each one, leaving the others
        unchanged (§3.5.2.1, §3.5.2.3: sub-attributes not given are left unchanged); remove, or replace
        with null, clears the extension (§3.5.2.2).
        """
        if op == "replace" and value is None:
            op = "remove"
        if op == "remove":
            if value is not _MISSING and value is not None:
                raise InvalidValueError(f"A remove of the extension '{urn}' takes no value: it clears the "
                                        f"whole extension")
            present = self.doc.get(urn) or {}
            for attr in schema.attributes(self.resource_type, urn):
                if attr.required and attr.name in present:
                    raise MutabilityError(f"Attribute '{urn}:{attr.name}' is required and cannot be removed")
            self.doc.pop(urn, None)
            return
        if value is _MISSING or value is None:
            raise InvalidValueError(f"The {op} operation on the extension '{urn}' needs an object of its "
                                    f"attributes as its value")
        for target, item in self.expand_key(urn, value):
            self.apply(op, target, item)

    def resolve(self, patch_path, text):
        """Resolve a PatchPath against the schema into a _Target, or raise InvalidPathError."""
        path = patch_path.path
        attr = schema.resolve(self.resource_type, path.uri, path.name)
        if attr is None:
            raise InvalidPathError(f"Invalid path '{text}': no such attribute for {self.resource_type}")
        sub_name = path.sub or patch_path.sub
        sub = None
        if sub_name is not None:
            sub = attr.sub(sub_name) if attr.is_complex else None
            if sub is None:
                raise InvalidPathError(f"Invalid path '{text}': '{attr.name}' has no sub-attribute "
                                       f"'{sub_name}'")
        node = patch_path.value_filter
        if node is not None:
            if not (attr.multi_valued and attr.is_complex):
                raise InvalidPathError(f"Invalid path '{text}': a value filter needs a multi-valued complex "
                                       f"attribute")
            self.check_filter(attr, node, text)
        return _Target(attr=attr, sub=sub, value_filter=node, text=text)

    def check_filter(self, attr, node, text):
        """Raise InvalidPathError unless every attribute in a value filter is a sub-attribute of `attr`."""
        for current in leaves(node):
            if isinstance(current, Comparison):
                ref = current.path
                if ref.sub is not None or ref.uri is not None or attr.sub(ref.name) is None:
                    raise InvalidPathError(f"Invalid path '{text}': '{ref}' is not a sub-attribute of "
                                           f"'{attr.name}'")
            else:
                raise InvalidPathError(f"Invalid path '{text}': value filters cannot be nested")

    def no_path(self, op, value):
        """Apply an operation without a path: each attribute of the value is a target (RFC 7644 §3.5.2)."""
        if op == "remove":
            raise NoTargetError("A remove operation needs a path (RFC 7644 §3.5.2.2)")
        if not isinstance(value, dict):
            raise InvalidValueError(f"An {op} operation without a path needs an object of attributes as its "
                                    f"value")
        for key, item in value.items():
            for target, target_value in self.expand_key(key, item):
                self.apply(op, target, target_value)

    def expand_key(self, key, item):
        """Resolve one key of a no-path value into (target, value) pairs."""
        if not isinstance(key, str):
            raise InvalidValueError(f"Invalid attribute name {key!r}")
        lower = key.lower()
        if lower == "schemas":
            return []
        if lower == "id":
            return self.id_in_value(item)
        urn = schema.canonical_urn(self.resource_type, key)
        if urn is not None and urn != self.core:
            if not isinstance(item, dict):
                raise InvalidValueError(f"Extension '{urn}' must be an object of its attributes")
            pairs = []
            for sub_key, sub_item in item.items():
                if is_extension_schemas(urn, sub_key, sub_item):
                    continue
                attr = schema.resolve(self.resource_type, urn, sub_key) if isinstance(sub_key, str) else None
                if attr is None:
                    raise InvalidValueError(f"Unknown attribute '{urn}:{sub_key}'")
                pairs.append((_Target(attr=attr, text=f"{urn}:{attr.name}"), sub_item))
            return pairs
        if "." in key or ":" in key or "[" in key:
            # Entra's aadOptscim062020 replace: {"name.givenName": .., "urn:...:User:employeeNumber": ..}.
            self.recorder.tolerate(quirk_names.ENTRA_NO_PATH_DOTTED_KEYS,
                                   f"Invalid attribute name '{key}' in a value without a path: use nested "
                                   f"objects, or one operation per path")
            return [(self.resolve(parse_patch_path(key), key), item)]
        attr = schema.resolve(self.resource_type, None, key)
        if attr is None:
            raise InvalidValueError(f"Unknown attribute '{key}' for {self.resource_type}")
        return [(_Target(attr=attr, text=attr.name), item)]

    def id_in_value(self, item):
        """Tolerate Okta's read-only id in a no-path value when it names this resource."""
        # Okta renames a pushed group with {"op": "replace", "value": {"id": .., "displayName": ..}}.
        if self.resource_id is None or not isinstance(item, str) or item != str(self.resource_id):
            raise MutabilityError("Attribute 'id' is read-only and cannot be changed")
        self.recorder.tolerate(quirk_names.OKTA_NO_PATH_ID_IN_VALUE,
                               "Attribute 'id' is read-only and cannot be part of a PATCH value",
                               error=MutabilityError)
        return []

    def apply(self, op, target, value):
        """Apply add/replace/remove to one resolved target."""
        attr, sub = target.attr, target.sub
        if attr.mutability == schema.WRITE_ONLY:
            return
        if attr.mutability == schema.READ_ONLY or (sub is not None and sub.mutability == schema.READ_ONLY):
            raise MutabilityError(f"Attribute '{self.label(attr, sub)}' is read-only")
        if self.resource_type == schema.GROUP and attr.name == "members":
            self.members(op, target, value)
            return
        if op != "remove" and value is _MISSING:
            raise InvalidValueError(f"The {op} operation on '{target.text}' needs a value")
        if attr.mutability == schema.IMMUTABLE and self.container(attr).get(attr.name) is not None:
            raise MutabilityError(f"Attribute '{self.label(attr)}' is immutable and already has a value")
        if op == "replace" and value is None:
            op = "remove"
        if op == "add" and value is None:
            raise InvalidValueError(f"The add operation on '{target.text}' needs a non-null value")
        if target.value_filter is not None:
            self.value_path(op, target, value)
        elif sub is not None:
            self.sub_attribute(op, target, value)
        elif op == "remove":
            self.remove_attribute(target, value)
        else:
            self.set_attribute(op, attr, value)
        self.tidy(attr)

    def set_attribute(self, op, attr, value):
        """Add or replace a whole attribute."""
        container = self.container(attr, create=True)
        current = container.get(attr.name)
        if attr.multi_valued:
            new = normalize_value(attr, [value] if isinstance(value, dict) else value, self.recorder,
                                  self.label(attr)) or []
            if op == "replace" or not current:
                container[attr.name] = new
                return
            added = [v for v in new if not any(values_equal(attr, v, old) for old in current)]
            if any(v.get("primary") is True for v in added):
                self.clear_primary(current)
            container[attr.name] = current + added
            return
        new = normalize_value(attr, value, self.recorder, self.label(attr))
        if new is None:
            container.pop(attr.name, None)
        elif attr.is_complex and isinstance(current, dict) and attr.sub("value") is None:
            container[attr.name] = {**current, **new}
        else:
            container[attr.name] = new

    def remove_attribute(self, target, value):
        """Remove a whole attribute, or only the listed values of a multi-valued one."""
        attr = target.attr
        container = self.container(attr)
        if attr.multi_valued and value is not _MISSING and value is not None:
            # Entra's selector form, as for members: remove only the values listed.
            self.recorder.tolerate(quirk_names.ENTRA_REMOVE_BY_VALUE,
                                   f"A remove of '{target.text}' takes no value; select values with a filter "
                                   f"such as {attr.name}[value eq \"...\"]")
            selectors = normalize_value(attr, [value] if isinstance(value, dict) else value, self.recorder,
                                        self.label(attr)) or []
            current = container.get(attr.name) or []
            container[attr.name] = [e for e in current if not any(_selects(attr, s, e) for s in selectors)]
            if container[attr.name] == current:
                return
            if not container[attr.name] and attr.required:
                raise MutabilityError(f"Attribute '{self.label(attr)}' is required and cannot be removed")
            return
        if attr.required:
            raise MutabilityError(f"Attribute '{self.label(attr)}' is required and cannot be removed "
                                  f"(RFC 7644 §3.5.2.2)")
        container.pop(attr.name, None)

    def sub_attribute(self, op, target, value):
        """Add, replace or remove one sub-attribute reached by attr.sub (no filter)."""
        attr, sub = target.attr, target.sub
        label = self.label(attr, sub)
        container = self.container(attr, create=op != "remove")
        if attr.multi_valued:
            if op != "remove":
                raise InvalidPathError(f"Invalid path '{target.text}': select which '{attr.name}' value to "
                                       f"change with a filter, e.g. {attr.name}[type eq \"work\"].{sub.name}")
            for element in container.get(attr.name) or []:
                element.pop(sub.name, None)
            return
        if op == "remove":
            current = container.get(attr.name)
            if isinstance(current, dict):
                current.pop(sub.name, None)
            return
        new = normalize_scalar(sub, value, self.recorder, label)
        current = container.get(attr.name)
        current = dict(current) if isinstance(current, dict) else {}
        current[sub.name] = new
        container[attr.name] = current

    def value_path(self, op, target, value):
        """Apply an operation through a value filter such as emails[type eq "work"](.value)."""
        attr, sub, node = target.attr, target.sub, target.value_filter
        container = self.container(attr, create=op != "remove")
        elements = container.get(attr.name) or []
        hits = [i for i, element in enumerate(elements) if matches(node, element, attr)]
        if op == "remove":
            if sub is None:
                container[attr.name] = [e for i, e in enumerate(elements) if i not in hits]
            else:
                for i in hits:
                    elements[i].pop(sub.name, None)
            return
        if sub is not None:
            new_sub = normalize_scalar(sub, value, self.recorder, self.label(attr, sub))
            if not hits:
                if op == "replace":
                    # Entra replaces emails[type eq "work"].value on users without one (idp_fixtures/entra/scim/21-work-email-created.json).
                    self.recorder.tolerate(quirk_names.ENTRA_VALUE_PATH_CREATES,
                                           f"The filter of '{target.text}' matched no value (RFC 7644 "
                                           f"§3.5.2.3: noTarget)", error=NoTargetError)
                element = self.element_from_filter(target)
                element[sub.name] = new_sub
                self.append(attr, container, elements, element)
                return
            for i in hits:
                elements[i] = {**elements[i], sub.name: new_sub}
                if sub.name == "primary" and new_sub is True:
                    self.clear_primary(elements, keep=i)
            check_single_primary(attr, elements, self.label(attr))
            container[attr.name] = elements
            return
        new = normalize_complex(attr, value, self.recorder, self.label(attr))
        if new is None:
            raise InvalidValueError(f"The {op} operation on '{target.text}' needs an object value")
        if not hits:
            if op == "replace":
                raise NoTargetError(f"The filter of '{target.text}' matched no value (RFC 7644 §3.5.2.3)")
            self.append(attr, container, elements, {**self.element_from_filter(target), **new})
            return
        for i in hits:
            elements[i] = {**elements[i], **new} if op == "add" else dict(new)
        if new.get("primary") is True:
            if len(hits) > 1:
                raise InvalidValueError(f"'{target.text}' matches several values: only one can be primary")
            self.clear_primary(elements, keep=hits[0])
        container[attr.name] = elements

    def append(self, attr, container, elements, element):
        """Append a new element to a multi-valued attribute, keeping primary unique."""
        if element.get("primary") is True:
            self.clear_primary(elements)
        container[attr.name] = elements + [element]

    def element_from_filter(self, target):
        """Build the element a value filter of eq conditions describes, or raise NoTargetError."""
        attr = target.attr
        element = {}
        stack = [target.value_filter]
        while stack:
            node = stack.pop()
            if isinstance(node, And):
                stack.extend((node.left, node.right))
                continue
            if not (isinstance(node, Comparison) and node.op == "eq"):
                raise NoTargetError(f"The filter of '{target.text}' matched no value, and a value cannot be "
                                    f"created from it (only eq conditions joined by and)")
            sub = attr.sub(node.path.name)
            value = normalize_scalar(sub, node.value, self.recorder, self.label(attr, sub))
            if value is None:
                raise NoTargetError(f"The filter of '{target.text}' matched no value, and a value cannot be "
                                    f"created from a null comparison")
            if sub.name in element and element[sub.name] != value:
                raise NoTargetError(f"The filter of '{target.text}' can never match")
            element[sub.name] = value
        return element

    @staticmethod
    def clear_primary(elements, keep=None):
        """Set primary false on every element but `keep` (RFC 7643 §2.4: one primary value)."""
        for i, element in enumerate(elements):
            if i != keep and element.get("primary") is True:
                elements[i] = {**element, "primary": False}

    def tidy(self, attr):
        """Drop empty elements, lists, complex values and extension objects (RFC 7643 §2.5: unassigned)."""
        container = self.container(attr)
        current = container.get(attr.name)
        if isinstance(current, list):
            current = [e for e in current if e not in ({}, None)]
            if current:
                container[attr.name] = current
            else:
                container.pop(attr.name, None)
        elif current == {}:
            container.pop(attr.name, None)
        if attr.schema != self.core and self.doc.get(attr.schema) == {}:
            del self.doc[attr.schema]

    def members(self, op, target, value):
        """Turn an operation on Group members into a membership delta (RFC 7644 §3.5.2)."""
        if target.sub is not None:
            raise InvalidPathError(f"Invalid path '{target.text}': members are added, replaced or removed "
                                   f"whole")
        if target.value_filter is not None:
            if op != "remove":
                raise InvalidPathError(f"Invalid path '{target.text}': a member filter can only select "
                                       f"members to remove; use add or replace with path \"members\"")
            ids = _member_ids_of_filter(target.value_filter)
            self.member_ops.append(("remove", ids) if ids is not None else ("remove_filter",
                                                                             target.value_filter))
            return
        if op == "remove":
            if value is _MISSING or value is None:
                self.member_ops.append(("remove_all",))
                return
            # Entra's default removal: {"op": "Remove", "path": "members", "value": [{"value": id}]}.
            self.recorder.tolerate(quirk_names.ENTRA_MEMBERS_REMOVE_BY_VALUE,
                                   "A remove of 'members' with a value would remove every member (RFC 7644 "
                                   "§3.5.2.2); select members with members[value eq \"...\"]")
            self.member_ops.append(("remove", member_ids(value)))
            return
        if value is _MISSING:
            raise InvalidValueError(f"The {op} operation on 'members' needs a value")
        ids = [] if value is None else member_ids(value)
        self.member_ops.append((op, ids))

    def finish(self, original):
        """Check the whole document once every operation has been applied."""
        for urn in schema.schema_for(self.resource_type):
            container = self.doc if urn == self.core else self.doc.get(urn) or {}
            before = original if urn == self.core else original.get(urn) or {}
            for attr in schema.attributes(self.resource_type, urn):
                blanked = is_blank(container.get(attr.name)) and not is_blank(before.get(attr.name))
                if attr.required and blanked:
                    raise InvalidValueError(f"Attribute '{self.label(attr)}' is required and cannot be blank")
                if attr.multi_valued and isinstance(container.get(attr.name), list):
                    check_single_primary(attr, container[attr.name], self.label(attr))


def _selects(attr, selector, element):
    """Tell whether every sub-attribute given in `selector` equals the element's."""
    return all(values_equal(attr.sub(k) or attr, v, element.get(k)) for k, v in selector.items())


def _member_ids_of_filter(node):
    """Return the ids of a `value eq "id"` (or an `or` of them) member filter, else None."""
    ids = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Or):
            stack.extend((current.right, current.left))
        elif (isinstance(current, Comparison) and current.op == "eq" and current.path.name.lower() == "value"
              and isinstance(current.value, str)):
            if current.value not in ids:
                ids.append(current.value)
        else:
            return None
    return ids


def apply_patch(resource_type, resource, operations, *, strict=False, resource_id=None):
    """Apply PatchOp `operations` to a copy of `resource`; return a PatchResult or raise a ScimError."""
    if not isinstance(resource, dict):
        raise TypeError("resource must be a dict")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntaxError("\"Operations\" must be a non-empty list (RFC 7644 §3.5.2)")
    patcher = _Patcher(resource_type, resource, strict, resource_id)
    for index, raw in enumerate(operations, start=1):
        try:
            patcher.operation(raw)
        except ScimError as error:
            raise type(error)(f"Operation {index}: {error.detail}", status=error.status,
                              scim_type=error.scim_type) from error
    patcher.finish(resource)
    changed = patcher.doc != resource or bool(patcher.member_ops)
    return PatchResult(resource=patcher.doc, member_ops=patcher.member_ops, quirks=patcher.recorder.applied,
                       changed=changed)

