"""SCIM responses: the media type on every answer, and error bodies."""

import json

from flask import Response

from .constants import MEDIA_TYPE


def scim_response(body, status=200, headers=None):
    """Return `body` as application/scim+json."""
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False) if body is not None else ""
    response = Response(data, status=status, content_type=MEDIA_TYPE if body is not None else None)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def scim_error_response(error):
    """Render a ScimError as RFC 7644 §3.12 error JSON."""
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if error.status == 401 else None
    return scim_response(error.to_dict(), status=error.status, headers=headers)
