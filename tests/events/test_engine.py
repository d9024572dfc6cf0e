"""Pure parts of the log, no app: canonical hashing, secret scrubbing, cursors, mentions, outcomes."""

import datetime
import hashlib

import pytest

from models.events import HASHED_COLUMNS, canonical_json, checkpoint_hash, event_hash, format_time
from models.services import ConflictError, InvalidError
from models.services.audit import OPERATIONS, decode_cursor, encode_cursor, mentions, outcome_of, scrub
from scim.errors import UniquenessError

ROW = {"id": "e1", "workspace_id": "w1", "seq": 3, "time": datetime.datetime(2025, 1, 2, 3, 4, 5),
       "received_at": None, "request_id": "r", "actor_kind": "service", "actor_token_id": "t",
       "actor_token_label": "okta", "actor_person_id": None, "actor_email": None, "idp": "okta",
       "client_ip": "10.0.0.1", "user_agent": "Okta SCIM Client 1.0.0", "operation": "user.created",
       "target_type": "user", "target_id": "u1", "target_name": "Jane Ö", "before": None,
       "after": {"b": 1, "a": [1, 2]}, "status": 201, "error": None, "scim_type": None, "quirks": []}


def test_hash_is_sha256_over_sorted_canonical_json_then_prev_hash():
    canonical = ('{"actor_email":null,"actor_kind":"service","actor_person_id":null,"actor_token_id":"t",'
                 '"actor_token_label":"okta","after":{"a":[1,2],"b":1},"before":null,"client_ip":"10.0.0.1",'
                 '"error":null,"id":"e1","idp":"okta","operation":"user.created","quirks":[],'
                 '"received_at":null,"request_id":"r","scim_type":null,"seq":3,"status":201,"target_id":"u1",'
                 '"target_name":"Jane Ö","target_type":"user","time":"2025-01-02T03:04:05.000000Z",'
                 '"user_agent":"Okta SCIM Client 1.0.0","workspace_id":"w1"}')
    assert canonical_json({c: (format_time(ROW[c]) if c == "time" else ROW[c]) for c in HASHED_COLUMNS}) \
        == canonical
    prev = "a" * 64
    assert event_hash(ROW, prev) == hashlib.sha256((canonical + prev).encode()).hexdigest()


def test_any_field_or_the_previous_hash_changes_the_hash():
    base = event_hash(ROW, "0" * 64)
    assert event_hash(ROW, "1" * 64) != base
    for column, value in (("seq", 4), ("target_name", "Jane"), ("after", {"b": 1}), ("status", 200),
                          ("time", ROW["time"] + datetime.timedelta(microseconds=1)), ("quirks", ["x"])):
        assert event_hash(dict(ROW, **{column: value}), "0" * 64) != base, column
    assert event_hash(dict(ROW, after={"a": [1, 2], "b": 1}), "0" * 64) == base  # key order does not matter
    assert event_hash(dict(ROW, hash="x", prev_hash="y"), "0" * 64) == base


def test_time_format_is_fixed():
    assert format_time(datetime.datetime(2025, 1, 2, 3, 4, 5, 7)) == "2025-01-02T03:04:05.000007Z"
    assert format_time("2025-01-02 03:04:05") == "2025-01-02T03:04:05.000000Z"
    assert format_time(None) is None


def test_checkpoint_hash_covers_every_field():
    cp = {"workspace_id": "w", "seq": 9, "last_hash": "a" * 64, "pruned_count": 9,
          "pruned_before": datetime.datetime(2025, 1, 1), "created_at": datetime.datetime(2025, 2, 1),
          "prev_checkpoint_hash": "0" * 64}
    assert checkpoint_hash(cp) != checkpoint_hash(dict(cp, seq=8))
    assert checkpoint_hash(cp) != checkpoint_hash(dict(cp, last_hash="b" * 64))


@pytest.mark.parametrize("doc, expected", [
    ({"password": "hunter2"}, {"password": "[redacted]"}),
    ({"client_secret": "s", "clientSecret": "s", "api_key": "k"},
     {"client_secret": "[redacted]", "clientSecret": "[redacted]", "api_key": "[redacted]"}),
    ({"code": "12345678", "deletion_code": "1", "token": "rst_x"},
     {"code": "[redacted]", "deletion_code": "[redacted]", "token": "[redacted]"}),
    ({"config": {"issuer": "https://idp", "client_secret": "s"}},
     {"config": {"issuer": "https://idp", "client_secret": "[redacted]"}}),
    ({"Operations": [{"op": "replace", "path": "password", "value": "p"}, {"op": "replace", "path": "title",
                                                                            "value": "Boss"}]},
     {"Operations": [{"op": "replace", "path": "password", "value": "[redacted]"},
                     {"op": "replace", "path": "title", "value": "Boss"}]}),
    ({"token_id": "t1", "prefix": "rst_svc_ab", "tokens": 3, "postalCode": "75001", "countryCode": "FR"},
     {"token_id": "t1", "prefix": "rst_svc_ab", "tokens": 3, "postalCode": "75001", "countryCode": "FR"}),
    ({"when": datetime.datetime(2025, 1, 1), "nul": "a\x00b", "set": {1}},
     {"when": "2025-01-01T00:00:00", "nul": "a\ufffdb", "set": [1]}),
])
def test_scrub_removes_secrets_and_keeps_the_rest(doc, expected):
    assert scrub(doc) == expected


def test_cursor_round_trip_and_mismatch():
    assert decode_cursor(encode_cursor("asc", 41), "asc") == 41
    with pytest.raises(InvalidError):
        decode_cursor(encode_cursor("asc", 41), "desc")
    for junk in ("", "!!!", "e30", "eyJvIjoiYXNjIiwicyI6dHJ1ZX0"):
        with pytest.raises(InvalidError):
            decode_cursor(junk, "asc")


def test_mentions_find_members_of_group_changes():
    assert mentions({"members": ["m1", {"value": "m2"}]}, {"members": [{"value": "m3", "display": "x"}]}) == \
        ["m1", "m2", "m3"]
    assert mentions(None, {"member": "m4"}, target_id="m4") == []
    assert mentions("junk", {"members": [{"nope": 1}, 5, "x" * 65]}) == []


def test_outcome_of_service_scim_http_and_unexpected_errors():
    from werkzeug.exceptions import Forbidden
    assert outcome_of(ConflictError("Taken", errors={"slug": ["Already taken"]})) == \
        (409, 'Taken {"slug":["Already taken"]}', None)
    assert outcome_of(UniquenessError("userName exists")) == (409, "userName exists", "uniqueness")
    assert outcome_of(Forbidden("nope"))[:2] == (403, "nope")
    assert outcome_of(KeyError("x")) == (500, "Internal error (KeyError)", None)


def test_operations_views_declare_are_in_the_operation_vocabulary(app):
    # A refusal files under the operation its view declares (`operation=member.removed&outcome=failure`).
    from web.audit import declared_operation
    with app.app_context():
        declared = {declared_operation(rule.endpoint, method)
                    for rule in app.url_map.iter_rules() for method in rule.methods}
    names = {d.name for d in declared if d is not None}
    assert names and names <= set(OPERATIONS)
