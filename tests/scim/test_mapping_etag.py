"""ETag matching shared by If-Match and If-None-Match (RFC 7232 §3.1-3.2, RFC 7644 §3.14); no app."""

import pytest

from scim.mapping import etag, etag_matches


@pytest.mark.parametrize("header, expected", [
    ('W/"3"', True), ('"3"', True), ('W/"2", W/"3"', True), (' W/"3" ', True), ("*", True),
    ('W/"2"', False), ('W/"33"', False), ("3", False), ('W/"2",W/"4"', False),
])
def test_etag_matches_compares_weakly(header, expected):
    assert etag(3) == 'W/"3"'
    assert etag_matches(header, 3) is expected
