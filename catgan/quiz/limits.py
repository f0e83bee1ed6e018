"""Which quiz answers count: only those given at a human pace.

A script can answer far faster than a person looks at two cats. An answer counts only when
- its pair has been on screen for at least ``min_view_s`` (a person needs that to look at both),
- its session answered nothing in the previous ``min_gap_s`` (every attempt restarts that clock),
- its client (one address; behind a proxy, the address the proxy saw) has fewer than
  ``client_max`` counted answers in the last ``client_window_s``. Sessions are cheap to make, so
  this is the cap that holds against a script that opens many. An IPv4 client is its address; an
  IPv6 client is its /64, the block one subscriber gets (anyone can rotate through 2**64 addresses).
Too fast answers are still revealed and stored, just not counted. The state is in memory, per
process; a Space runs one process, so that is the whole picture there.
"""
from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class QuizLimits:
    min_view_s: float = 0.5  # a pair must have been shown this long before its answer counts
    min_gap_s: float = 1.0  # at most one answer per this many seconds per session
    client_max: int = 120  # counted answers per client ...
    client_window_s: float = 600.0  # ... in this many seconds (one every 5 s, sustained)

    @classmethod
    def off(cls) -> QuizLimits:
        return cls(0.0, 0.0, 10**9, 1.0)


MAX_KEYS = 100_000  # least recently seen sessions/clients are forgotten beyond this


class Window:
    """Thread-safe count of events per key within the last ``window_s`` seconds, at most MAX_KEYS keys
    (the least recently seen are forgotten): a per-client cap on anything, bounded in memory."""

    def __init__(self, window_s: float, clock=time.monotonic, max_keys: int = MAX_KEYS):
        self.window_s, self.clock, self.max_keys = window_s, clock, max_keys
        self._lock = threading.Lock()
        self._times: OrderedDict[str, deque] = OrderedDict()

    def __len__(self) -> int:
        return len(self._times)

    def admit(self, key: str, limit: int, now: float | None = None) -> bool:
        """Book one event for ``key`` if it has fewer than ``limit`` in the window; else False, unbooked."""
        now = self.clock() if now is None else now
        with self._lock:
            times = self._times.pop(key, None) or deque()
            self._times[key] = times
            _trim(self._times, self.max_keys)
            while times and now - times[0] > self.window_s:
                times.popleft()
            if len(times) >= limit:
                return False
            times.append(now)
            return True


class Pace:
    """Thread-safe bookkeeping of answer times per session and per client, bounded in memory."""

    MAX_KEYS = MAX_KEYS

    def __init__(self, limits: QuizLimits = QuizLimits(), clock=time.monotonic):
        self.limits, self.clock = limits, clock
        self._lock = threading.Lock()
        self._last: OrderedDict[str, float] = OrderedDict()  # session -> time of its last attempt
        self._counted = Window(limits.client_window_s, clock)  # client -> times of its counted answers

    def check(self, session: str, client: str, shown_at: float) -> str | None:
        """Call once per answer that claims its pair. None: it counts (and is booked as counted);
        else the reason it does not. ``shown_at``: this clock's time when the pair was sent. ``client``:
        an address or its ``client_key``; an IPv6 address is capped with the rest of its /64."""
        lim, now, client = self.limits, self.clock(), client_key(client)
        with self._lock:
            last = self._last.pop(session, None)
            self._last[session] = now
            _trim(self._last, self.MAX_KEYS)
            if now - shown_at < lim.min_view_s:
                return f"answered within {lim.min_view_s:g} s of the pair appearing"
            if last is not None and now - last < lim.min_gap_s:
                return f"more than one answer per {lim.min_gap_s:g} s"
            if not self._counted.admit(client, lim.client_max, now):
                return f"over {lim.client_max} answers from one address in {lim.client_window_s / 60:g} minutes"
            return None


def _trim(d: OrderedDict, size: int) -> None:
    while len(d) > size:
        d.popitem(last=False)


def client_address(peer: str | None, forwarded_for: str | None) -> str:
    """The client's address. ``peer``: who connected; ``forwarded_for``: its X-Forwarded-For header.

    The header is believed only from a peer on a private network (the Space's own proxy; on loopback,
    a local test or benchmark), never from a peer on the internet, which could write anything in it.
    A proxy appends the address it saw, and a client can put made-up ones in front, so the answer is
    the last public address of the chain (made-up private ones after it can't come from the client:
    the proxies append after them). A hop may carry a port ("5.6.7.8:1234", "[2001:db8::1]:443");
    the address is returned without it. Without such a header: the peer itself."""
    peer_ip = _parse_address(peer or "")
    peer = str(peer_ip) if peer_ip else (peer or "").strip() or "unknown"
    if not forwarded_for or peer_ip is None or peer_ip.is_global:
        return peer
    hops = [_parse_address(h) for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if hop is None or hop.is_global:  # a word that is not an address counts as public: never trusted
            return str(hop) if hop else peer
    return str(hops[0]) if hops else peer


def client_key(address: str) -> str:
    """The key a client's answers are capped under: an IPv4 address itself, an IPv6 address its /64
    ("2001:db8:1:2::/64"), anything else as given. Idempotent."""
    ip = _parse_address(address)
    if ip is None:
        return address
    return str(ipaddress.IPv6Network((ip, 64), strict=False)) if ip.version == 6 else str(ip)


_BRACKETED = re.compile(r"\[([^\[\]]+)\](?::[0-9]{1,5})?")  # [IPv6] or [IPv6]:port
_WITH_PORT = re.compile(r"([0-9.]+):[0-9]{1,5}")  # IPv4:port (IPv6 needs brackets to carry one)


def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a peer or a forwarded hop writes it, or None: "1.2.3.4", "1.2.3.4:80",
    "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:443", quoted or not. The port and an IPv6 zone
    ("%eth0") are dropped; an IPv4-mapped IPv6 address ("::ffff:1.2.3.4") is its IPv4 address."""
    text = text.strip().strip('"')
    match = _BRACKETED.fullmatch(text) or _WITH_PORT.fullmatch(text)
    host = match.group(1) if match else text
    try:
        ip = ipaddress.ip_address(host.partition("%")[0] if ":" in host else host)
    except ValueError:
        return None
    if match and (ip.version == 6) != text.startswith("["):  # "[1.2.3.4]": not a way to write one
        return None
    return ip.ipv4_mapped or ip if ip.version == 6 else ip


def request_keys(request) -> tuple[str, str]:
    """(session, client) of a gr.Request (or None, for a direct call in tests). ``client`` is the
    address's key (see ``client_key``): what Pace and QuizStore.record cap by."""
    if request is None:
        return "none", "none"
    headers = getattr(request, "headers", None) or {}
    client = getattr(request, "client", None)
    peer = getattr(client, "host", None) if client is not None else None
    session = getattr(request, "session_hash", None) or "none"
    return str(session), client_key(client_address(peer, headers.get("x-forwarded-for")))
