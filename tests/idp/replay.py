"""Load and play recorded IdP lifecycles (idp_fixtures/<idp>/scim/NN-step.json); idp_fixtures/README.md is the spec.

Pure helpers (no app): placeholders, the recursive subset matcher, and `play_step`, which sends one step
through any Flask test client and returns what differed from the expectation.
"""

import dataclasses
import json
import os
import re

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "idp_fixtures")

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")
_STEP_FILE = re.compile(r"^\d{2}-[a-z0-9-]+\.json$")

ABSENT = "$absent"
ANY = "$any"
INT = "$int"
INCLUDES = "$includes"


class MissingVariableError(Exception):
    """A placeholder names a value no earlier step captured."""


@dataclasses.dataclass
class Step:
    idp: str
    name: str
    data: dict

    @property
    def id(self):
        return f"{self.idp}/{self.name}"

    @property
    def quirks(self):
        return list(self.data.get("quirks", []))

    @property
    def xfail(self):
        return self.data.get("xfail")


def idp_folders():
    """Return the IdP folder names that hold SCIM steps, sorted."""
    return sorted(name for name in os.listdir(ROOT)
                  if os.path.isdir(os.path.join(ROOT, name, "scim")))


def client_info(idp):
    """Return the folder's client.json: how the IdP authenticates and what it should be detected as."""
    with open(os.path.join(ROOT, idp, "client.json"), encoding="utf-8") as handle:
        return json.load(handle)


def load_steps(idp):
    """Return the steps of one folder in file-name order; refuse misnamed files."""
    folder = os.path.join(ROOT, idp, "scim")
    steps = []
    for filename in sorted(os.listdir(folder)):
        if not _STEP_FILE.match(filename):
            raise ValueError(f"{idp}/scim/{filename}: step files are named NN-lower-case-words.json")
        with open(os.path.join(folder, filename), encoding="utf-8") as handle:
            steps.append(Step(idp, filename[:-5], json.load(handle)))
    return steps


def lookup(variables, dotted):
    """Return the value at a dotted path (`user1.id`, `list.Resources.0.id`) in the captured variables."""
    current = variables
    for part in dotted.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise MissingVariableError(f"{{{{{dotted}}}}}: nothing captured at {part!r}")
    return current


def substitute(value, variables):
    """Replace {{name.path}} placeholders; a string that is only a placeholder takes the value's JSON type."""
    if isinstance(value, dict):
        return {substitute(k, variables): substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if not isinstance(value, str):
        return value
    whole = _PLACEHOLDER.fullmatch(value)
    if whole:
        return lookup(variables, whole.group(1))
    return _PLACEHOLDER.sub(lambda m: str(lookup(variables, m.group(1))), value)


def _same_scalar(expected, actual):
    # JSON types must agree: true is not 1 and "0" is not 0 (Okta needs integer counts).
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


def _unassigned(value):
    # RFC 7643 §2.5: null, an empty list and an empty object all mean "no value".
    return value is None or value == [] or value == {}


def _match_string_rule(rule, actual):
    if rule == ANY:
        return actual is not None
    if rule == INT:
        return isinstance(actual, int) and not isinstance(actual, bool)
    if rule.startswith("$$"):
        return actual == rule[1:]
    kind, _, operand = rule.partition(":")
    if not isinstance(actual, str):
        return False
    if kind == "$startswith":
        return actual.startswith(operand)
    if kind == "$endswith":
        return actual.endswith(operand)
    if kind == "$contains":
        return operand in actual
    if kind == "$icontains":
        return operand.lower() in actual.lower()
    raise ValueError(f"Unknown matcher {rule!r}")


def match(expected, actual, where="body"):
    """Return the differences between an expected subset and an actual JSON value (empty when it matches).

    Objects: every expected key must match (`"$absent"` requires the key missing or unassigned: null, [] or {}).
    Lists: same length, and each expected element matches a different actual element, in any order; a list
    starting with `"$includes"` allows extra actual elements. Strings starting with `$` are matchers: `$any`,
    `$int`, `$startswith:x`, `$endswith:x`, `$contains:x`, `$icontains:x` (`$$` escapes a literal `$`).
    """
    if isinstance(expected, str) and expected.startswith("$"):
        if expected == ABSENT:
            return [] if _unassigned(actual) else [f"{where}: expected absent, got {actual!r}"]
        return [] if _match_string_rule(expected, actual) else [f"{where}: {actual!r} does not match {expected!r}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        problems = []
        for key, value in expected.items():
            if value == ABSENT:
                if not _unassigned(actual.get(key)):
                    problems.append(f"{where}.{key}: expected absent, got {actual[key]!r}")
                continue
            if key not in actual:
                problems.append(f"{where}.{key}: missing (expected {value!r})")
                continue
            problems.extend(match(value, actual[key], f"{where}.{key}"))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {actual!r}"]
        includes = bool(expected) and expected[0] == INCLUDES
        if includes:
            expected = expected[1:]
        if len(expected) > len(actual) or (not includes and len(expected) != len(actual)):
            return [f"{where}: expected {len(expected)} elements, got {len(actual)}: {actual!r}"]
        remaining = list(actual)
        for index, element in enumerate(expected):
            found = next((i for i, candidate in enumerate(remaining) if not match(element, candidate)), None)
            if found is None:
                return [f"{where}[{index}]: no element matches {element!r} in {actual!r}"]
            remaining.pop(found)
        return []
    return [] if _same_scalar(expected, actual) else [f"{where}: expected {expected!r}, got {actual!r}"]


def build_request(step, variables):
    """Return (method, path, headers, body bytes or None) with placeholders filled in."""
    request = substitute(step.data["request"], variables)
    headers = dict(request.get("headers") or {})
    body = request.get("body")
    data = None
    if body is not None:
        data = body if isinstance(body, str) else json.dumps(body)
        headers.setdefault("Content-Type", "application/scim+json")
    return request["method"], request["path"], headers, data


def response_json(response):
    """Return the response body as JSON, or None when it is empty."""
    if not response.data:
        return None
    try:
        return json.loads(response.data)
    except ValueError:
        return response.data.decode("utf-8", "replace")


def check_response(step, response, variables):
    """Capture what the step names, then return the differences from its expectation."""
    body = response_json(response)
    if step.data.get("capture") and response.status_code < 300 and isinstance(body, dict):
        variables[step.data["capture"]] = body
    expect = substitute(step.data["expect"], variables)
    problems = []
    statuses = expect["status"] if isinstance(expect["status"], list) else [expect["status"]]
    if response.status_code not in statuses:
        problems.append(f"status: expected {' or '.join(map(str, statuses))}, got {response.status_code}: {body!r}")
    for name, rule in (expect.get("headers") or {}).items():
        problems.extend(match(rule, response.headers.get(name), f"header {name}"))
    if "body" in expect and not problems:
        problems.extend(match(expect["body"], body))
    return problems


def play_step(client, step, variables):
    """Send one step through a Flask test client; return (response, differences)."""
    method, path, headers, data = build_request(step, variables)
    response = client.open(path, method=method, headers=headers, data=data)
    return response, check_response(step, response, variables)
