"""Fetch IdP metadata, discovery documents and keys over HTTP(S) without reaching private networks.

The host is resolved once, every address is checked, and the connection goes to the checked
address (the Host header and TLS server name still carry the host name), so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot reach a refused address.
Redirects are followed by hand and each hop is checked the same way.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

from models.untrusted import load_json

DEFAULT_TIMEOUT = 5
DEFAULT_MAX_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
USER_AGENT = "Roster-SSO/1.0"

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


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
            return load_json(self.content.decode("utf-8-sig"))
        except ValueError as exc:  # not JSON, not text, or nested too deeply
            raise FetchError(f"{self.url} did not return JSON: {exc}") from exc


def refusal_reason(address):
    """Return why an IP address may not be fetched from, or None when it is public."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            reason = refusal_reason(ip.ipv4_mapped)
            return f"IPv4-mapped {reason}" if reason else None
        if ip in _NAT64:
            reason = refusal_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
            return f"NAT64-embedded {reason}" if reason else None
        if ip.sixtofour is not None:
            reason = refusal_reason(ip.sixtofour)
            return f"6to4-embedded {reason}" if reason else None
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


def resolve(host, port):
    """Return the IP addresses a host name resolves to, in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
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
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _checked_target(url, allow_private_network):
    parts = urlsplit(url)
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
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise FetchError(f"URL has an invalid port: {url}") from exc
    addresses = resolve(host, port)
    if not allow_private_network:
        for address in addresses:
            reason = refusal_reason(address)
            if reason:
                raise FetchError(
                    f"Refused to fetch {url}: {host} resolves to {address}, {reason}. "
                    "Private and loopback addresses are refused unless the workspace setting "
                    "sso.allow_private_network is true."
                )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port, addresses, path


def _open(scheme, host, port, address, timeout):
    if scheme == "https":
        return _PinnedHTTPSConnection(host, port, address, timeout, ssl.create_default_context())
    return _PinnedHTTPConnection(host, port, address, timeout)


def _read_limited(response, url, max_bytes, deadline, sock_timeout):
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise FetchError(f"{url} answered {length} bytes, more than the limit of {max_bytes} bytes")
    chunks, total = [], 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError(f"{url} took longer than {sock_timeout} seconds")
        chunk = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
        if not chunk:
            break
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(f"{url} answered more than the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_url(
    url,
    *,
    allow_private_network=False,
    timeout=DEFAULT_TIMEOUT,
    max_bytes=DEFAULT_MAX_BYTES,
    method="GET",
    data=None,
    headers=None,
    max_redirects=MAX_REDIRECTS,
    allow_error_status=False,
):
    """Fetch a URL over http(s) with address, size, time and redirect limits; raise FetchError."""
    deadline = time.monotonic() + timeout
    body = urlencode(data).encode() if isinstance(data, dict) else data
    request_headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    request_headers.update(headers or {})
    if body is not None and isinstance(data, dict):
        request_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    for _ in range(max_redirects + 1):
        scheme, host, port, addresses, path = _checked_target(url, allow_private_network)
        last_error = None
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"{url} took longer than {timeout} seconds")
            connection = _open(scheme, host, port, address, min(timeout, remaining))
            try:
                connection.request(method, path, body=body, headers=request_headers)
                response = connection.getresponse()
                status = response.status
                response_headers = {k.lower(): v for k, v in response.getheaders()}
                if status in REDIRECT_STATUSES and response_headers.get("location"):
                    content = b""
                else:
                    content = _read_limited(response, url, max_bytes, deadline, timeout)
                break
            except ssl.SSLCertVerificationError as exc:
                raise FetchError(f"TLS certificate of {host} is not valid: {exc.verify_message}") from exc
            except (socket.timeout, TimeoutError) as exc:
                raise FetchError(f"{url} took longer than {timeout} seconds") from exc
            except (OSError, http.client.HTTPException) as exc:
                last_error = exc
            finally:
                connection.close()
        else:
            raise FetchError(f"Cannot connect to {url}: {last_error}")
        if status in REDIRECT_STATUSES and response_headers.get("location"):
            url = urljoin(url, response_headers["location"])
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", None
                request_headers.pop("Content-Type", None)
            continue
        if not allow_error_status and not 200 <= status < 300:
            raise FetchError(f"{url} answered HTTP {status}")
        return FetchResult(url=url, status=status, headers=response_headers, content=content)
    raise FetchError(f"Too many redirects (more than {max_redirects}) starting from the given URL")
