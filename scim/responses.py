"""SCIM responses: the media type on every answer, error bodies, ListResponse, Location and ETag."""

import json

from flask import Response, has_request_context, request
from werkzeug.exceptions import MethodNotAllowed

from .constants import LIST_RESPONSE, MEDIA_TYPE
from .errors import error_body


def scim_response(body, status=200, headers=None):
    """Return `body` as application/scim+json."""
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False) if body is not None else ""
    response = Response(data, status=status, content_type=MEDIA_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def allowed_methods(error):
    """Return the methods a 405 allows: the error's own, else those routing found for the request's URL."""
    allowed = getattr(error, "allowed", None)
    if not allowed and has_request_context() and isinstance(request.routing_exception, MethodNotAllowed):
        allowed = request.routing_exception.valid_methods
    return sorted(set(allowed or ()))


def scim_error_response(error):
    """Render a ServiceError as RFC 7644 §3.12 error JSON; a 405 names the allowed methods (RFC 9110 §15.5.6)."""
    headers = dict(error.headers)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="scim"'
    if error.status == 405:
        allowed = allowed_methods(error)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return scim_response(error_body(error), status=error.status, headers=headers)


def list_response(resources, total, start_index):
    """Return an RFC 7644 §3.4.2 ListResponse; the counts are JSON integers (Okta requires it)."""
    return scim_response({
        "schemas": [LIST_RESPONSE],
        "totalResults": int(total),
        "startIndex": int(start_index),
        "itemsPerPage": len(resources),
        "Resources": resources,
    })


def resource_response(resource, status=200, *, version=None, location=None):
    """Return one resource with its ETag (RFC 7644 §3.14) and, on creation, its Location (§3.3)."""
    headers = {}
    if version:
        headers["ETag"] = version
    if location:
        headers["Location"] = location
    return scim_response(resource, status=status, headers=headers)


def no_content(version=None):
    """Return 204 No Content, with the new ETag when there is one (RFC 7644 §3.5.2, §3.6)."""
    response = Response(status=204, content_type=MEDIA_TYPE)
    if version:
        response.headers["ETag"] = version
    return response


def not_modified(version):
    """Return 304 Not Modified for a matching If-None-Match (RFC 7644 §3.14)."""
    response = Response(status=304, content_type=MEDIA_TYPE)
    response.headers["ETag"] = version
    return response
