import time

import pytest
from werkzeug.wrappers import Request, Response

from idp_fixtures.sso.http import LocalServer
from sso import fetch
from sso.fetch import FetchError, fetch_url, refusal_reason


@pytest.fixture(scope="module")
def server():
    seen = []

    def app(environ, start_response):
        request = Request(environ)
        seen.append(
            {
                "path": request.path,
                "host": request.host,
                "method": request.method,
                "body": request.get_data(as_text=True),
            }
        )
        if request.path == "/big":
            response = Response(b"x" * 200_000)
        elif request.path == "/slow":
            time.sleep(1.5)
            response = Response("late")
        elif request.path == "/redirect":
            response = Response(status=302, headers={"Location": request.args["to"]})
        elif request.path == "/missing":
            response = Response("no", status=404)
        else:
            response = Response("hello")
        return response(environ, start_response)

    local = LocalServer(app)
    local.start()
    local.seen = seen
    yield local
    local.close()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "fec0::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "2002:7f00:1::1",
        "2001:db8::1",
    ],
)
def test_refused_addresses(address):
    assert refusal_reason(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address):
    assert refusal_reason(address) is None


def test_loopback_refused_by_default(server):
    with pytest.raises(FetchError, match="loopback address.*SSO_ALLOW_PRIVATE_NETWORK"):
        fetch_url(server.url + "/")


def test_loopback_allowed_when_setting_allows(server):
    result = fetch_url(server.url + "/", allow_private_network=True)
    assert (result.status, result.content) == (200, b"hello")


def test_localhost_name_refused():
    with pytest.raises(FetchError, match="loopback"):
        fetch_url("http://localhost:9/")


@pytest.mark.parametrize(
    "url,message",
    [
        ("ftp://example.com/x", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("gopher://example.com/", "Only http and https"),
        ("https://user:pw@example.com/", "user name or password"),
        ("http:///nohost", "no host"),
    ],
)
def test_bad_urls(url, message):
    with pytest.raises(FetchError, match=message):
        fetch_url(url)


@pytest.fixture
def fake_dns(monkeypatch):
    """Resolve *.test names from a table and treat 127.0.0.1 as if it were public."""
    table = {}
    calls = []
    real = fetch.refusal_reason

    def resolve(host, port, timeout=None):
        calls.append(host)
        answer = table[host]
        return answer(len(calls)) if callable(answer) else list(answer)

    monkeypatch.setattr(fetch, "resolve", resolve)
    monkeypatch.setattr(fetch, "refusal_reason", lambda a: None if a == "127.0.0.1" else real(a))
    return table, calls


def test_redirect_to_private_address_refused(server, fake_dns):
    table, _ = fake_dns
    table.update({"public.test": ["127.0.0.1"], "internal.test": ["10.0.0.5"]})
    with pytest.raises(FetchError, match="10.0.0.5, a private address"):
        fetch_url(f"http://public.test:{server.port}/redirect?to=http://internal.test/secret", require_https=False)


def test_redirect_followed_when_allowed(server, fake_dns):
    table, _ = fake_dns
    table["public.test"] = ["127.0.0.1"]
    result = fetch_url(f"http://public.test:{server.port}/redirect?to=/final", require_https=False)
    assert result.content == b"hello"
    assert result.url.endswith("/final")


def test_any_refused_address_refuses_the_host(fake_dns):
    table, _ = fake_dns
    table["mixed.test"] = ["127.0.0.1", "192.168.0.10"]
    with pytest.raises(FetchError, match="192.168.0.10"):
        fetch_url("http://mixed.test/", require_https=False)


def test_connects_to_the_checked_address_no_rebinding(server, fake_dns):
    table, calls = fake_dns
    # A rebinding DNS answers a public address first and a private one afterwards.
    table["rebind.test"] = lambda n: ["127.0.0.1"] if n == 1 else ["10.0.0.5"]
    result = fetch_url(f"http://rebind.test:{server.port}/pinned", require_https=False)
    assert result.content == b"hello"
    assert calls == ["rebind.test"]
    assert server.seen[-1]["host"] == f"rebind.test:{server.port}"


def test_size_limit(server):
    with pytest.raises(FetchError, match="limit of 1000 bytes"):
        fetch_url(server.url + "/big", allow_private_network=True, max_bytes=1000)


def test_time_limit(server):
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 0.3 seconds"):
        fetch_url(server.url + "/slow", allow_private_network=True, timeout=0.3)
    assert time.monotonic() - started < 1.4


def test_error_status(server):
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_url(server.url + "/missing", allow_private_network=True)
    assert (
        fetch_url(server.url + "/missing", allow_private_network=True, allow_error_status=True).status == 404
    )


def test_post_form(server):
    fetch_url(server.url + "/token", allow_private_network=True, method="POST", data={"a": "1 2"})
    assert server.seen[-1]["method"] == "POST"
    assert server.seen[-1]["body"] == "a=1+2"


def test_too_many_redirects(server):
    url = server.url + "/redirect?to=/redirect%3Fto%3D/redirect%253Fto%253D/x"
    with pytest.raises(FetchError, match="Too many redirects"):
        fetch_url(url, allow_private_network=True, max_redirects=1)


def test_unresolvable_host():
    with pytest.raises(FetchError, match="Cannot resolve"):
        fetch_url("http://no-such-host.invalid/")


# Network policy is the operator's: link-local and cloud metadata addresses are refused even when the
# operator allows private networks (SSO_ALLOW_PRIVATE_NETWORK).

@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
                                 "http://[fe80::1]/", "http://[::ffff:169.254.169.254]/",
                                 "http://100.100.100.200/"])
def test_metadata_addresses_refused_always(url):
    started = time.monotonic()
    with pytest.raises(FetchError, match="refused always"):
        fetch_url(url, allow_private_network=True, timeout=2)
    assert time.monotonic() - started < 1


def test_https_required_for_public_hosts(server, fake_dns):
    table, _ = fake_dns
    table["public.test"] = ["127.0.0.1"]  # treated as public by fake_dns
    with pytest.raises(FetchError, match="https is required"):
        fetch_url(f"http://public.test:{server.port}/")


def test_plain_http_to_loopback_needs_the_operator_switch(server):
    with pytest.raises(FetchError, match="SSO_ALLOW_PRIVATE_NETWORK"):
        fetch_url(server.url + "/", require_https=True)
    assert fetch_url(server.url + "/", allow_private_network=True).content == b"hello"


@pytest.fixture
def drip_server():
    """A server on 127.0.0.1 that answers a status line, then one header byte every 50 ms for 10 s."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                for _ in range(200):
                    if stop.wait(0.05):
                        break
                    conn.sendall(b"a")
            except OSError:
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_one_deadline_covers_slowly_dripped_headers(drip_server):
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 0.5 seconds"):
        fetch_url(drip_server + "/", allow_private_network=True, timeout=0.5)
    assert time.monotonic() - started < 1.5


@pytest.fixture
def other_origin():
    seen = []

    def app(environ, start_response):
        request = Request(environ)
        seen.append({"path": request.path, "authorization": request.headers.get("Authorization"),
                     "method": request.method})
        return Response("other")(environ, start_response)

    local = LocalServer(app)
    local.start()
    local.seen = seen
    yield local
    local.close()


def test_redirect_to_another_origin_drops_credentials(other_origin):
    def app(environ, start_response):
        return Response(status=307, headers={"Location": other_origin.url + "/landed"})(environ, start_response)

    first = LocalServer(app)
    first.start()
    try:
        result = fetch_url(first.url + "/", allow_private_network=True,
                           headers={"Authorization": "Basic c2VjcmV0OnNlY3JldA=="})
        assert result.content == b"other"
        assert other_origin.seen[-1] == {"path": "/landed", "authorization": None, "method": "GET"}
        with pytest.raises(FetchError, match="another origin"):
            fetch_url(first.url + "/token", allow_private_network=True, method="POST",
                      data={"client_secret": "s3cret"})
        assert all(hit["method"] == "GET" for hit in other_origin.seen)
    finally:
        first.close()


def test_redirect_never_downgrades_https_to_http():
    with pytest.raises(FetchError, match="from https to http"):
        fetch._follow("https://idp.example.com/a", "http://idp.example.com/b", 302, "GET", None, {})
    url, method, body, headers = fetch._follow("https://idp.example.com/a", "/b", 308, "POST", b"x",
                                               {"Authorization": "Basic x"})
    assert (url, method, body, headers) == ("https://idp.example.com/b", "POST", b"x", {"Authorization": "Basic x"})


@pytest.mark.parametrize("depth,ok", [(10, True), (fetch.MAX_JSON_DEPTH, True), (fetch.MAX_JSON_DEPTH + 1, False),
                                      (100_000, False)])
def test_json_depth_is_bounded(depth, ok):
    data = ("[" * depth + "]" * depth).encode()
    if ok:
        assert not fetch.nests_too_deep(fetch.parse_json(data))
    else:
        with pytest.raises(ValueError, match="nests deeper"):
            fetch.parse_json(data)


@pytest.mark.parametrize("address", ["64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "::ffff:169.254.169.254"])
def test_metadata_addresses_inside_ipv6_are_refused_always(address):
    assert fetch.always_refused(address)


@pytest.mark.parametrize("url", ["https://a.example:99999/y", "https://[zz/", "http://[::1"])
def test_unusable_urls_are_fetch_errors_never_value_errors(url):
    with pytest.raises(fetch.FetchError):
        fetch._origin(url)
    assert fetch.url_problem(url)
