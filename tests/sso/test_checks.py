import pytest

from sso.checks import Check, check_email_domain, summarize


def test_summary_passed():
    assert summarize([Check("a", "s", "pass", "ok"), Check("b", "s", "info", "fyi")]) == (
        "passed",
        "All 1 check(s) passed",
    )


def test_summary_passed_with_warnings():
    status, summary = summarize([Check("a", "s", "pass", "ok"), Check("b", "s", "warn", "hm")])
    assert status == "passed_with_warnings"
    assert "1 warning" in summary


def test_summary_failed_names_first_failure():
    status, summary = summarize(
        [
            Check("a", "s", "pass", "ok"),
            Check("b", "s", "fail", "bad thing"),
            Check("c", "s", "fail", "worse"),
        ]
    )
    assert status == "failed"
    assert summary == "2 check(s) failed: bad thing (and 1 more)"


def test_summary_of_nothing_failed():
    assert summarize([])[0] == "failed"


def test_unknown_status_refused():
    with pytest.raises(ValueError):
        Check("a", "s", "ok", "nope")


def test_to_dict_shape():
    check = Check("saml.response.signature", "signature", "fail", "bad", fix="do x", detail={"k": 1})
    assert check.to_dict() == {
        "id": "saml.response.signature",
        "stage": "signature",
        "status": "fail",
        "message": "bad",
        "fix": "do x",
        "detail": {"k": 1},
    }


@pytest.mark.parametrize(
    "email,status",
    [
        ("a@Example.COM", "pass"),
        ("a@example.com.", "pass"),
        ("a@sub.example.com", "fail"),
        ("a@example.org", "fail"),
    ],
)
def test_email_domain(email, status):
    assert check_email_domain(email, [" example.com", "@EXAMPLE.net"], "x", "profile").status == status
