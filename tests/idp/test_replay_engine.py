"""The fixture replay engine (tests/idp/replay.py) without an app: placeholders, the matcher, every fixture file."""

import json

import pytest

from tests.idp.replay import (MissingVariableError, Step, check_response, client_info, idp_folders, load_steps, match,
                              substitute)


def test_whole_placeholder_keeps_the_json_type():
    variables = {"user": {"id": "abc", "meta": {"version": 3}, "active": False}}
    assert substitute("{{user.meta}}", variables) == {"version": 3}
    assert substitute({"a": "{{user.active}}"}, variables) == {"a": False}


def test_placeholders_inside_strings_and_lists():
    variables = {"g": {"Resources": [{"id": "g1"}]}, "token": "t"}
    assert substitute("/Groups/{{g.Resources.0.id}}?x", variables) == "/Groups/g1?x"
    assert substitute(["Bearer {{token}}"], variables) == ["Bearer t"]


def test_missing_placeholder_is_an_error():
    with pytest.raises(MissingVariableError):
        substitute("{{user.id}}", {})


def test_match_is_a_recursive_subset():
    assert match({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}, "d": 3}) == []
    assert match({"a": {"b": 1}}, {"a": {"b": 2}})


def test_match_types_are_strict():
    assert match({"totalResults": 0}, {"totalResults": "0"})
    assert match({"active": True}, {"active": 1})
    assert match({"n": "$int"}, {"n": True})
    assert match({"n": "$int"}, {"n": 3}) == []


def test_match_lists_any_order_same_length():
    assert match([{"value": "b"}, {"value": "a"}], [{"value": "a"}, {"value": "b"}]) == []
    assert match([{"value": "a"}], [{"value": "a"}, {"value": "b"}])
    assert match(["$includes", {"value": "a"}], [{"value": "a"}, {"value": "b"}]) == []
    assert match(["$includes", {"value": "c"}], [{"value": "a"}, {"value": "b"}])


def test_match_absent_accepts_missing_and_unassigned_only():
    assert match({"password": "$absent"}, {}) == []
    assert match({"members": "$absent"}, {"members": []}) == []
    assert match({"members": "$absent"}, {"members": None}) == []
    assert match({"password": "$absent"}, {"password": "x"})


def test_match_string_rules():
    assert match("$startswith:application/scim+json", "application/scim+json; charset=utf-8") == []
    assert match("$endswith:/Users/1", "http://h/scim/v2/Users/1") == []
    assert match("$icontains:JSON", "application/json") == []
    assert match("$any", None)
    assert match("$$literal", "$literal") == []


class FakeResponse:
    def __init__(self, status, body, headers=None):
        self.status_code = status
        self.data = json.dumps(body).encode() if body is not None else b""
        self.headers = headers or {}


def test_check_response_captures_then_matches_against_the_capture():
    step = Step("x", "01-create", {"capture": "user", "expect": {
        "status": 201, "body": {"meta": {"location": "$endswith:/Users/{{user.id}}"}},
        "headers": {"Location": "{{user.meta.location}}"}}})
    variables = {}
    body = {"id": "u1", "meta": {"location": "http://h/scim/v2/Users/u1"}}
    assert check_response(step, FakeResponse(201, body, {"Location": "http://h/scim/v2/Users/u1"}), variables) == []
    assert variables["user"]["id"] == "u1"


def test_check_response_accepts_any_listed_status():
    step = Step("x", "01-patch", {"expect": {"status": [200, 204]}})
    assert check_response(step, FakeResponse(204, None), {}) == []
    assert check_response(step, FakeResponse(400, {"detail": "no"}), {})


@pytest.mark.parametrize("idp", idp_folders())
def test_every_fixture_is_well_formed(idp):
    info = client_info(idp)
    assert info["token_label"] is not None and info["detected_as"]
    steps = load_steps(idp)
    assert steps
    for step in steps:
        data = step.data
        assert set(data) <= {"description", "source", "request", "capture", "quirks", "xfail", "expect"}, step.id
        assert data["description"], step.id
        assert data["request"]["method"] in {"GET", "POST", "PUT", "PATCH", "DELETE"}, step.id
        assert data["request"]["path"].startswith("/scim/v2/"), step.id
        assert "Bearer {{token}}" == data["request"]["headers"]["Authorization"], step.id
        assert isinstance(data["expect"]["status"], (int, list)), step.id
        for name in data.get("quirks", []):
            from scim import quirks
            assert name in quirks.ALL, f"{step.id}: unknown quirk {name}"
