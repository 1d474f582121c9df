"""Outbound URL guard for user-supplied webhook URLs.

`check_url_syntax` runs at PUT (and again at send); `resolve` runs at send time: it
resolves the host, refuses private, loopback, link-local, reserved, multicast,
shared and cloud-metadata addresses, and returns a `Target` pinned to the checked
address, so the connection goes to the address that was checked (no DNS-rebinding
window between the check and the connect). Hosts listed in
settings.NOTIFICATIONS_ALLOWED_HOSTS may use http, private addresses and any port; every other
host only port 443 (plus NOTIFICATIONS_ALLOWED_PORTS), so a channel cannot be aimed at a public
host's SSH or Redis port. `check_channel_url` adds the rule of a channel kind: the Feishu kind
only calls Feishu/Lark hosts (NOTIFICATIONS_FEISHU_HOSTS).
"""

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from django.conf import settings

MAX_URL_LENGTH = 2000

# Metadata services that are not already caught as link-local/private/shared space.
_METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
}


class UnsafeUrl(ValueError):
    """The URL may not be called. str() is a sentence safe to show to the user.

    `transient` marks a failure that may pass (the host could not be resolved now)."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Target:
    url: str  # the URL as given (for the Host header and SNI)
    host: str
    address: str  # the checked IP the connection must go to
    pinned_url: str  # the URL with the host replaced by `address`


def allowed_hosts() -> set[str]:
    return {h.strip().lower().rstrip(".") for h in getattr(settings, "NOTIFICATIONS_ALLOWED_HOSTS", []) if h.strip()}


def _host_of(parts: SplitResult) -> str:
    return (parts.hostname or "").lower().rstrip(".")


def check_url_syntax(url: str) -> SplitResult:
    """Scheme, credentials, length and shape; an IP-literal host is checked here too."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("Enter a URL.")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise UnsafeUrl("The URL contains whitespace or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("The URL is not valid.")
    scheme = parts.scheme.lower()
    host = _host_of(parts)
    if not host:
        raise UnsafeUrl("The URL has no host.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("The URL must not contain credentials.")
    allowed = host in allowed_hosts()
    if scheme != "https" and not (scheme == "http" and allowed):
        raise UnsafeUrl("The URL must use https.")
    if port == 0:
        raise UnsafeUrl("The URL's port is not valid.")
    if not allowed and (port or 443) not in {443, *getattr(settings, "NOTIFICATIONS_ALLOWED_PORTS", [])}:
        raise UnsafeUrl("The URL must use port 443.")
    if not allowed:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and not is_public_address(literal):
            raise UnsafeUrl("The URL points to a private or reserved address.")
    return parts


def check_channel_url(kind: str, url: str) -> SplitResult:
    """`check_url_syntax`, plus the hosts a channel kind may call."""
    parts = check_url_syntax(url)
    host = _host_of(parts)
    if kind == "feishu" and host not in allowed_hosts():
        feishu = {h.strip().lower().rstrip(".") for h in getattr(settings, "NOTIFICATIONS_FEISHU_HOSTS", [])}
        if host not in feishu:
            raise UnsafeUrl(f"A Feishu webhook URL must be on {' or '.join(sorted(feishu))}.")
    return parts


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public_address(mapped)
        if address.teredo is not None:
            return False
    if address in _METADATA_ADDRESSES:
        return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global  # shared (100.64/10), documentation, benchmarking ranges
    )


def lookup(host: str, port: int) -> list[str]:
    """The host's addresses (DNS). A seam for tests, which replace it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


# getaddrinfo has no timeout of its own: it runs on these threads, and is waited for no longer
# than NOTIFICATIONS_DNS_TIMEOUT (a channel save waits for it inside the request).
_resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ssrf-dns")


def _lookup_within_deadline(host: str, port: int) -> list[str]:
    timeout = float(getattr(settings, "NOTIFICATIONS_DNS_TIMEOUT", 2.0))
    try:
        return _resolver.submit(lookup, host, port).result(timeout=timeout)
    except FutureTimeout:
        raise UnsafeUrl("The URL's host could not be resolved in time.", transient=True)


def resolve(url: str) -> Target:
    """Check the URL and resolve its host now; raise UnsafeUrl if any address is refused."""
    parts = check_url_syntax(url)
    host = _host_of(parts)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        found = _lookup_within_deadline(host, port)
    except (OSError, UnicodeError):
        raise UnsafeUrl("The URL's host could not be resolved.", transient=True)
    addresses = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(str(text).split("%", 1)[0]))
        except ValueError:
            continue
    if not addresses:
        raise UnsafeUrl("The URL's host could not be resolved.", transient=True)
    if host not in allowed_hosts() and not all(is_public_address(a) for a in addresses):
        raise UnsafeUrl("The URL points to a private or reserved address.")
    address = addresses[0]
    pinned = urlunsplit((parts.scheme.lower(), _netloc(str(address), parts.port), parts.path, parts.query, ""))
    return Target(url=url, host=host, address=str(address), pinned_url=pinned)


def _netloc(host: str, port: int | None) -> str:
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def host_header(url: str) -> str:
    parts = urlsplit(url)
    return _netloc(parts.hostname or "", parts.port)


def mask_url(url: str) -> str:
    """`https://open.feishu.cn/open-apis/bot/v2/hook/abc` → `https://open.feishu.cn/***`.

    The path of a webhook URL is often the credential (Feishu's hook token), so
    nothing after the host is ever shown or logged."""
    try:
        parts = urlsplit(url or "")
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "***"
    if not host:
        return "***"
    return f"{parts.scheme}://{_netloc(host, port)}/***"
