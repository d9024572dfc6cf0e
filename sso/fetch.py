"""Fetch IdP metadata, discovery documents and keys over HTTP(S) without reaching private networks.

The host is resolved once, every address is checked, and the connection goes to the checked
address (the Host header and TLS server name still carry the host name), so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot reach a refused address.
Redirects are followed by hand and each hop is checked the same way: never from https to http, and never
with credentials (Authorization, a request body) to another origin.

Network policy is the operator's, never a tenant's: private and loopback addresses are reachable only when
the operator sets SSO_ALLOW_PRIVATE_NETWORK (passed here as `allow_private_network`), plain http only to a
loopback address with that switch, and link-local / cloud metadata addresses are refused always.

One wall-clock deadline covers the whole fetch (DNS, connect, TLS, headers, body, every redirect hop): a
watchdog shuts the socket down when it passes, so a server that drips one byte at a time cannot hold a
worker longer than `timeout`.
"""

import concurrent.futures
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

from models.untrusted import UntrustedInputError, check_json, load_json

DEFAULT_TIMEOUT = 5
DEFAULT_MAX_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
USER_AGENT = "Roster-SSO/1.0"

# Stricter than models.untrusted's default: no discovery document, JWKS or ID token nests near this.
MAX_JSON_DEPTH = 32

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
# Refused even when the operator allows private networks: link-local (where clouds serve instance
# metadata and credentials) and the metadata services that live elsewhere.
ALWAYS_REFUSED = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16",        # IPv4 link-local: AWS, GCP, Azure, OpenStack instance metadata
    "fe80::/10",             # IPv6 link-local
    "fd00:ec2::254/128",     # AWS instance metadata over IPv6
    "100.100.100.200/32",    # Alibaba Cloud instance metadata
    "168.63.129.16/32",      # Azure WireServer
))
ALLOW_SWITCH_HINT = ("Private and loopback addresses are refused unless the operator sets "
                     "SSO_ALLOW_PRIVATE_NETWORK=true")


class FetchError(Exception):
    """A URL could not be fetched; the message says why in words an admin understands."""


@dataclass
class FetchResult:
    """The answer to one fetch: final URL, status, lower-cased headers and body bytes."""

    url: str
    status: int
    headers: dict = field(default_factory=dict)
    content: bytes = b""

    @property
    def text(self):
        """Return the body decoded as UTF-8 (BOM removed, bad bytes replaced)."""
        return self.content.decode("utf-8-sig", errors="replace")

    def json(self):
        """Return the body parsed as JSON, or raise FetchError."""
        try:
            return parse_json(self.content)
        except ValueError as exc:  # not JSON, not text, or nested too deeply
            raise FetchError(f"{self.url} did not return JSON: {exc}") from exc


def nests_too_deep(value):
    """Tell whether a parsed JSON value nests deeper than MAX_JSON_DEPTH (or holds text that is not Unicode)."""
    try:
        check_json(value, MAX_JSON_DEPTH)
    except UntrustedInputError:
        return True
    return False


def parse_json(data, allow_constants=False):
    """Parse JSON from an IdP (UTF-8 bytes, BOM allowed, or text) nested at most MAX_JSON_DEPTH deep; raise
    ValueError (models.untrusted does the parsing and bounding for every untrusted JSON Roster reads)."""
    try:
        return load_json(data, MAX_JSON_DEPTH, allow_constants)
    except UntrustedInputError as exc:
        raise ValueError(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels or is not text: {exc}") from None


def embedded_ipv4(ip):
    """Return the IPv4 address an IPv6 address carries (IPv4-mapped, NAT64, 6to4) and how, or (None, None)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped, "IPv4-mapped"
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64-embedded"
        if ip.sixtofour is not None:
            return ip.sixtofour, "6to4-embedded"
    return None, None


def always_refused(address):
    """Return why an address is refused whatever the operator allows (link-local, cloud metadata), or None."""
    ip = ipaddress.ip_address(address)
    inner, _ = embedded_ipv4(ip)
    for candidate in (ip, inner):
        for network in ALWAYS_REFUSED:
            if candidate is not None and candidate.version == network.version and candidate in network:
                return "a link-local or cloud metadata address, refused always"
    return None


def refusal_reason(address):
    """Return why an IP address may not be fetched from, or None when it is public."""
    ip = ipaddress.ip_address(address)
    inner, how = embedded_ipv4(ip)
    if inner is not None:
        reason = refusal_reason(inner)
        return f"{how} {reason}" if reason else None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return "a Teredo tunnel address"
        if ip.is_site_local:
            return "a site-local address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def resolve(host, port, timeout=DEFAULT_TIMEOUT):
    """Return the IP addresses a host name resolves to, in the resolver's order, within `timeout` seconds."""
    # getaddrinfo cannot be interrupted: it runs in a helper thread that is abandoned at the deadline.
    future = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(timeout, 0.001))
    except concurrent.futures.TimeoutError:
        future.cancel()  # still queued: never runs; already running: getaddrinfo cannot be interrupted
        raise FetchError(f"Resolving {host} took longer than the time limit") from None
    except socket.gaierror as exc:
        raise FetchError(f"Cannot resolve host {host}: {exc.strerror or exc}") from exc
    addresses = []
    for info in infos:
        address = info[4][0].split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchError(f"Host {host} has no address")
    return addresses


_RESOLVER = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="sso-dns")


class _Watchdog:
    """Shuts the current connection's socket down when the fetch's deadline passes."""

    def __init__(self, seconds):
        self.fired = False
        self._connection = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, connection):
        with self._lock:
            self._connection = connection
            if self.fired:
                _shutdown(connection)

    def _fire(self):
        with self._lock:
            self.fired = True
            if self._connection is not None:
                _shutdown(self._connection)

    def cancel(self):
        self._timer.cancel()


def _shutdown(connection):
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            # The plain socket's shutdown, also for an SSLSocket (whose own shutdown drops its SSL object).
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        # Wrap first and shake hands after, so the watchdog can shut the socket down mid-handshake.
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host,
                                              do_handshake_on_connect=False)
        self.sock.do_handshake()


def _is_loopback(address):
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def split_url(url):
    """Return urlsplit(url), raising FetchError (not ValueError) for a URL Python cannot split (`https://[zz/`)."""
    try:
        parts = urlsplit(url)
        parts.hostname, parts.port  # noqa: B018  (both parse lazily and raise ValueError)
    except ValueError as exc:
        raise FetchError(f"Not a usable URL ({exc}): {url}") from None
    return parts


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def url_problem(url, allow_loopback_http=False):
    """Return why a URL an admin or an IdP gave is unusable (not http(s), no host, plain http other than to a
    loopback host when allowed), or None. It never raises: a URL Python cannot even split is a problem too."""
    try:
        parts = split_url(url or "")
    except FetchError:
        return f"not a usable URL: {url!r}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"not an https URL: {url!r}"
    if parts.scheme == "http" and not (allow_loopback_http and parts.hostname.lower() in LOOPBACK_HOSTS):
        return f"plain http: {url}"
    return None


def _checked_target(url, allow_private_network, require_https, remaining):
    parts = split_url(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(
            f"Only http and https URLs can be fetched, not {scheme or 'a URL without scheme'}: {url}"
        )
    if parts.username or parts.password:
        raise FetchError("URLs with a user name or password are refused")
    host = parts.hostname
    if not host:
        raise FetchError(f"URL has no host: {url}")
    port = parts.port or (443 if scheme == "https" else 80)
    addresses = resolve(host, port, remaining)
    for address in addresses:
        reason = always_refused(address) or (None if allow_private_network else refusal_reason(address))
        if reason:
            hint = "" if always_refused(address) else f" {ALLOW_SWITCH_HINT}."
            raise FetchError(f"Refused to fetch {url}: {host} resolves to {address}, {reason}.{hint}")
    if scheme == "http" and require_https and not (
            allow_private_network and all(_is_loopback(a) for a in addresses)):
        raise FetchError(f"Refused to fetch {url}: https is required (plain http only reaches a loopback "
                         "address, and only when the operator sets SSO_ALLOW_PRIVATE_NETWORK=true)")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port, addresses, path


def _origin(url):
    parts = split_url(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _open(scheme, host, port, address, timeout):
    if scheme == "https":
        return _PinnedHTTPSConnection(host, port, address, timeout, ssl.create_default_context())
    return _PinnedHTTPConnection(host, port, address, timeout)


def _read_limited(response, url, max_bytes):
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise FetchError(f"{url} answered {length} bytes, more than the limit of {max_bytes} bytes")
    chunks, total = [], 0
    while True:
        chunk = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
        if not chunk:
            break
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(f"{url} answered more than the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")


def _follow(url, location, status, method, body, headers):
    """Return (url, method, body, headers) of a redirect hop, or raise FetchError when it is unsafe."""
    target = urljoin(url, location)
    before, after = _origin(url), _origin(target)
    if before[0] == "https" and after[0] != "https":
        raise FetchError(f"Refused a redirect from https to {after[0] or 'a URL without scheme'}: {target}")
    if status == 303 or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    if after != before:
        if body is not None:
            raise FetchError(f"Refused to send the request body (it may carry credentials) on to another "
                             f"origin: {target}")
        headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
    return target, method, body, headers


def fetch_url(
    url,
    *,
    allow_private_network=False,
    require_https=True,
    timeout=DEFAULT_TIMEOUT,
    max_bytes=DEFAULT_MAX_BYTES,
    method="GET",
    data=None,
    headers=None,
    max_redirects=MAX_REDIRECTS,
    allow_error_status=False,
):
    """Fetch a URL over http(s) with address, scheme, size, time and redirect limits; raise FetchError."""
    deadline = time.monotonic() + timeout
    watchdog = _Watchdog(timeout)
    try:
        return _fetch(url, allow_private_network, require_https, timeout, deadline, watchdog, max_bytes,
                      method, data, headers, max_redirects, allow_error_status)
    finally:
        watchdog.cancel()


def _fetch(url, allow_private_network, require_https, timeout, deadline, watchdog, max_bytes, method, data,
           headers, max_redirects, allow_error_status):
    too_slow = f"{url} took longer than {timeout} seconds"
    body = urlencode(data).encode() if isinstance(data, dict) else data
    request_headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    request_headers.update(headers or {})
    if body is not None and isinstance(data, dict):
        request_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    for _ in range(max_redirects + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(too_slow)
        scheme, host, port, addresses, path = _checked_target(url, allow_private_network, require_https,
                                                              remaining)
        last_error = None
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or watchdog.fired:
                raise FetchError(too_slow)
            connection = _open(scheme, host, port, address, remaining)
            watchdog.watch(connection)
            try:
                connection.request(method, path, body=body, headers=request_headers)
                response = connection.getresponse()
                status = response.status
                response_headers = {k.lower(): v for k, v in response.getheaders()}
                if status in REDIRECT_STATUSES and response_headers.get("location"):
                    content = b""
                else:
                    content = _read_limited(response, url, max_bytes)
                if watchdog.fired:
                    raise FetchError(too_slow)
                break
            except ssl.SSLCertVerificationError as exc:
                raise FetchError(f"TLS certificate of {host} is not valid: {exc.verify_message}") from exc
            except (socket.timeout, TimeoutError) as exc:
                raise FetchError(too_slow) from exc
            except (OSError, http.client.HTTPException) as exc:
                if watchdog.fired:
                    raise FetchError(too_slow) from exc
                last_error = exc
            finally:
                connection.close()
        else:
            raise FetchError(f"Cannot connect to {url}: {last_error}")
        if status in REDIRECT_STATUSES and response_headers.get("location"):
            url, method, body, request_headers = _follow(url, response_headers["location"], status, method,
                                                         body, request_headers)
            continue
        if not allow_error_status and not 200 <= status < 300:
            raise FetchError(f"{url} answered HTTP {status}")
        return FetchResult(url=url, status=status, headers=response_headers, content=content)
    raise FetchError(f"Too many redirects (more than {max_redirects}) starting from the given URL")
