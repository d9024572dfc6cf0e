"""Property-based fuzz of SCIM over real HTTP: whatever a client sends, Roster answers below 500, and every
error is RFC 7644 §3.12 error JSON with the status it was answered with.

Seeded (`derandomize`), so a failure reproduces; bounded in examples and time."""

import json

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
EXAMPLES = 400
# Answered by gunicorn before the request reaches Roster: a request line or header over its limits.
FRONT_SERVER = (414, 431)

# Text a hostile client sends: any code point, lone surrogates, NUL, and the shapes of SCIM syntax.
HOSTILE = st.sampled_from(["\ud800", "\udfff", "a\ud83d", "\x00", "\x00\ud800", "\ufffe", "\U0010ffff", "",
                           " ", "%", "\\", '"', "'", "[", "]", "(", ")", "eq", "emails[", 'x eq "y"', "Z",
                           "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "1e309", "-0", "NaN", "x" * 5000])
TEXT = st.one_of(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40), HOSTILE,
                 st.text(max_size=20).map(lambda t: t + "\ud800"))
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                   st.floats(allow_nan=False, allow_infinity=False), TEXT)
JSON = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)
ATTRIBUTES = ["userName", "displayName", "externalId", "active", "name", "name.givenName", "emails", "emails.value",
              "emails[type eq \"work\"].value", "phoneNumbers", "roles", "groups", "members", "members.value",
              "meta", "meta.lastModified", "id", "title", "userType", "locale", "timezone", "x509Certificates",
              f"{ENTERPRISE}:manager", f"{ENTERPRISE}:employeeNumber", "schemas", "password"]
ATTR = st.one_of(st.sampled_from(ATTRIBUTES), TEXT)
OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]


@st.composite
def filters(draw):
    attr = draw(ATTR)
    op = draw(st.sampled_from(OPS))
    value = draw(st.one_of(TEXT, SCALAR).map(lambda v: json.dumps(v) if not isinstance(v, str) or draw(
        st.booleans()) else v))
    text = attr if op == "pr" else f"{attr} {op} {value}"
    if draw(st.booleans()):
        text = f"{text} {draw(st.sampled_from(['and', 'or']))} not ({text})"
    return text


@st.composite
def resource(draw, schema):
    body = {"schemas": draw(st.one_of(st.just([schema]), st.lists(TEXT, max_size=2)))}
    key = "userName" if schema == USER else "displayName"
    body[key] = draw(st.one_of(TEXT, JSON))
    for attr in draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=4)):
        body[attr] = draw(JSON)
    return body


@st.composite
def patch(draw):
    operations = [{"op": draw(st.one_of(st.sampled_from(["add", "replace", "remove", "Replace"]), TEXT)),
                   "path": draw(st.one_of(ATTR, filters().map(lambda f: f"emails[{f}].value"))),
                   "value": draw(JSON)} for _ in range(draw(st.integers(min_value=0, max_value=3)))]
    return {"schemas": draw(st.one_of(st.just([PATCH]), st.lists(TEXT, max_size=1))), "Operations": operations}


@st.composite
def requests_(draw):
    kind = draw(st.sampled_from(["create", "replace", "patch", "list", "search", "get", "delete", "bulk",
                                 "raw"]))
    collection, schema = draw(st.sampled_from([("Users", USER), ("Groups", GROUP)]))
    target = draw(st.one_of(st.just("{id}"), TEXT.map(lambda t: requests.utils.quote(
        t.encode("utf-8", "surrogatepass"), safe=""))))
    if kind == "create":
        return "POST", f"/{collection}", {}, draw(resource(schema))
    if kind == "replace":
        return "PUT", f"/{collection}/{target}", {}, draw(resource(schema))
    if kind == "patch":
        return "PATCH", f"/{collection}/{target}", {}, draw(patch())
    if kind == "list":
        params = {"filter": draw(filters()), "sortBy": draw(ATTR), "startIndex": draw(TEXT),
                  "count": draw(st.one_of(TEXT, st.integers().map(str))), "attributes": draw(ATTR)}
        chosen = draw(st.lists(st.sampled_from(sorted(params)), unique=True))
        return "GET", f"/{collection}", {k: params[k] for k in chosen}, None
    if kind == "search":
        return "POST", f"/{collection}/.search", {}, {"schemas": [SEARCH], "filter": draw(filters()),
                                                      "startIndex": draw(SCALAR), "count": draw(SCALAR)}
    if kind == "get":
        return "GET", f"/{collection}/{target}", {"attributes": draw(ATTR)}, None
    if kind == "delete":
        return "DELETE", f"/{collection}/{target}", {}, None
    if kind == "bulk":
        operations = [{"method": draw(st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET"])),
                       "path": draw(st.one_of(st.just(f"/{collection}"), st.just(f"/{collection}/{target}"), TEXT)),
                       "bulkId": draw(TEXT), "data": draw(st.one_of(resource(schema), patch(), JSON))}
                      for _ in range(draw(st.integers(min_value=0, max_value=3)))]
        return "POST", "/Bulk", {}, {"schemas": [BULK], "Operations": operations, "failOnErrors": draw(SCALAR)}
    return (draw(st.sampled_from(["POST", "PUT", "PATCH"])), f"/{collection}", {},
            draw(st.one_of(JSON, st.binary(max_size=64))))


def _check(response):
    what = (response.request.method, response.request.url[:300], response.status_code, response.text[:500])
    assert response.status_code < 500, what
    if response.status_code in (204, 304) or response.status_code in FRONT_SERVER:
        return
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(("not JSON",) + what) from None
    if response.status_code >= 400:
        assert body["schemas"] == [ERROR] and body["status"] == str(response.status_code), what
    else:
        assert isinstance(body, dict), what


def test_scim_answers_below_500_whatever_it_is_sent(live_roster):
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {live_roster.scim_token}",
                            "Content-Type": "application/scim+json"})
    base = f"{live_roster.url}/scim/v2"
    seed = session.post(f"{base}/Users", json={"schemas": [USER], "userName": "fuzz-seed"})
    assert seed.status_code == 201
    seed_group = session.post(f"{base}/Groups", json={"schemas": [GROUP], "displayName": "fuzz-seed",
                                                      "members": [{"value": seed.json()["id"]}]})
    assert seed_group.status_code == 201
    ids = {"Users": seed.json()["id"], "Groups": seed_group.json()["id"]}
    sent = []

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests_())
    def fuzz(request):
        method, path, params, body = request
        path = path.replace("{id}", ids["Users" if path.startswith("/Users") else "Groups"])
        if isinstance(body, bytes):
            data = body
        else:
            data = None if body is None else json.dumps(body).encode()  # lone surrogates as \ud800 escapes
        query = "&".join(f"{k}={requests.utils.quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
                         for k, v in params.items())
        response = session.request(method, f"{base}{path}" + (f"?{query}" if query else ""), data=data,
                                   timeout=30)
        sent.append(response.status_code)
        _check(response)

    fuzz()
    print(f"SCIM fuzz: {len(sent)} requests; statuses {sorted(set(sent))}")
    assert len(sent) >= EXAMPLES / 2
