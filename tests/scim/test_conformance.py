"""scim2-tester against a live Roster: every check it runs must succeed (issue 3, "Proof: conformance").

The server is the real app behind werkzeug's threaded HTTP server on 127.0.0.1 (an ephemeral port), reached
over the network by a scim2-client sync client built on `requests`, with PUBLIC_URL pointing at it so the
`meta.location` and `$ref` URLs the tester follows lead back to the server.
"""

import threading
import time
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from scim2_client import BaseSyncSCIMClient
from scim2_client.errors import RequestNetworkException
from scim2_tester import Status, check_server
from werkzeug.serving import WSGIRequestHandler, make_server

from models.db import db
from tests import factories

TIME_BUDGET = 60


class RequestsSCIMClient(BaseSyncSCIMClient):
    """A scim2-client sync engine sending real HTTP requests with a `requests.Session`."""

    def __init__(self, session, base_url, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session
        self.base_url = base_url.rstrip("/") + "/"

    def _url(self, endpoint):
        return urljoin(self.base_url, endpoint.lstrip("/")) if not urlsplit(endpoint).scheme else endpoint

    def _stays_under_base_url(self, endpoint):
        base, url = urlsplit(self.base_url), urlsplit(self._url(endpoint))
        return (url.scheme, url.netloc) == (base.scheme, base.netloc) and url.path.startswith(base.path[:-1])

    def _parse_json(self, response):
        return response.json()

    def request(self, method, url, **kwargs):
        """Send one request to the server, relative to the base URL."""
        try:
            return self.session.request(method, self._url(url), timeout=30, **kwargs)
        except requests.RequestException as error:
            failure = RequestNetworkException()
            failure.add_note(str(error))
            raise failure from error


class QuietHandler(WSGIRequestHandler):
    """Serve requests without an access log line each."""

    def log_request(self, code="-", size="-"):
        """Log nothing."""


@pytest.fixture
def live_server(app, monkeypatch):
    """Serve the app over HTTP on 127.0.0.1:<ephemeral port>; return its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setitem(app.config, "PUBLIC_URL", url)
    thread = threading.Thread(target=server.serve_forever, name="roster-live-server", daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def scim_token(app):
    """A fresh workspace with environments dev, test and prod, and a service token of scope scim."""
    with app.app_context(), db.connection_context():
        workspace, _ = factories.make_workspace("Conformance", owner_email="owner@conformance.test",
                                                environments=["dev", "test", "prod"])
        return factories.make_service_token(workspace, ["scim"])


def _describe(result):
    where = f"[{result.resource_type}] " if result.resource_type else ""
    return f"{where}{result.title}: {result.status.name}: {result.reason}"


def test_scim2_tester_passes_every_check(live_server, scim_token):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {scim_token}"
    client = RequestsSCIMClient(session, f"{live_server}/scim/v2")
    started = time.monotonic()
    results = check_server(client)
    elapsed = time.monotonic() - started

    assert results, "scim2-tester ran no check"
    failures = [_describe(r) for r in results if r.status != Status.SUCCESS]
    assert not failures, f"{len(failures)} of {len(results)} checks did not succeed:\n" + "\n".join(failures)
    # The tester covers discovery, the error paths and CRUD + PATCH of both resource types.
    titles = {(r.resource_type, r.title) for r in results}
    for resource_type in ("User", "Group"):
        for title in ("object_creation", "object_query", "object_replacement", "object_deletion",
                      "check_add_attribute", "check_remove_attribute", "check_replace_attribute"):
            assert (resource_type, title) in titles, f"{title} did not run for {resource_type}"
    assert elapsed < TIME_BUDGET, f"scim2-tester took {elapsed:.1f} s"
