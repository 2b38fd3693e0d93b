"""A real authoritative DNS server for tests: UDP and TCP on a free local port, in memory."""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
import struct
import threading
from types import TracebackType
from typing import Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

__all__ = ["DnsServer"]

# RFC 1035 §3.3: a <character-string> is one length octet and at most 255 octets of text.
_TXT_CHUNK = 255
# RFC 1035 §4.2.1: without EDNS a UDP response may not exceed 512 octets.
_CLASSIC_UDP_SIZE = 512
# Aliases followed in one answer at most, so that a CNAME loop ends.
_MAX_CHAIN = 8
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_Key = tuple[dns.name.Name, dns.rdatatype.RdataType]


class DnsServer:
    """Answers from the records given to `add()`, with the AA flag, like a zone's primary."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._records: dict[_Key, dns.rrset.RRset] = {}
        self._failures: dict[dns.name.Name, dns.rcode.Rcode | None] = {}
        self._queries: list[tuple[str, str]] = []
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def queries(self) -> list[tuple[str, str]]:
        """Every question received so far, as (name without final dot, type), oldest first."""
        with self._lock:
            return list(self._queries)

    def add(self, name: str, rdtype: str, *values: str, ttl: int = 60) -> None:
        """Add records, e.g. `add("example.com", "MX", "10 mx1.example.com.")`."""
        owner = dns.name.from_text(name)
        kind = dns.rdatatype.from_text(rdtype)
        rrset = _make_rrset(owner, kind, values, ttl)
        with self._lock:
            existing = self._records.get((owner, kind))
            if existing is not None:
                rrset = dns.rrset.from_rdata_list(owner, ttl, [*existing, *rrset])
            self._records[(owner, kind)] = rrset

    def remove(self, name: str, rdtype: str | None = None) -> None:
        """Forget the records of `name` (of one type, or all of them)."""
        owner = dns.name.from_text(name)
        with self._lock:
            for key in list(self._records):
                if key[0] == owner and (
                    rdtype is None or key[1] == dns.rdatatype.from_text(rdtype)
                ):
                    del self._records[key]

    def fail(self, name: str, rcode: str | None = "SERVFAIL") -> None:
        """Answer every question about `name` with `rcode`, or never answer when rcode is None."""
        with self._lock:
            self._failures[dns.name.from_text(name)] = (
                None if rcode is None else dns.rcode.from_text(rcode)
            )

    def heal(self, name: str) -> None:
        """Undo `fail(name)`."""
        with self._lock:
            self._failures.pop(dns.name.from_text(name), None)

    def start(self) -> Self:
        """Bind UDP and TCP on the same port (a free one when port is 0) and serve in a thread."""
        if self._thread is not None:
            raise RuntimeError("the DNS server is already running")
        self._udp, self._tcp = _bind_pair(self.host, self.port)
        self.port = self._udp.getsockname()[1]
        # A socket pair wakes the select loop on stop(), so it needs no polling timeout.
        self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=self._serve, args=(self._wake[0],), name="dns-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the sockets."""
        thread, self._thread = self._thread, None
        if thread is not None and self._wake is not None:
            self._wake[1].send(b"x")
            thread.join(5.0)
        for sock in (self._udp, self._tcp, *(self._wake or ())):
            if sock is not None:
                sock.close()
        self._udp = self._tcp = self._wake = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self, wake: socket.socket) -> None:
        assert self._udp is not None and self._tcp is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._udp, selectors.EVENT_READ)
            selector.register(self._tcp, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is wake:
                        return
                    if key.fileobj is self._udp:
                        self._serve_udp(self._udp)
                    else:
                        self._serve_tcp(self._tcp)

    def _serve_udp(self, sock: socket.socket) -> None:
        try:
            wire, peer = sock.recvfrom(65535)
        except OSError:
            return
        response = self._respond(wire)
        if response is not None:
            # Too big for the client's buffer: truncate and set TC, so it retries over TCP.
            size = response.request_payload or _CLASSIC_UDP_SIZE
            sock.sendto(response.to_wire(max_size=size, prefer_truncation=True), peer)

    def _serve_tcp(self, listener: socket.socket) -> None:
        # One query per connection, which RFC 7766 §6.2.3 lets a server choose.
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn, contextlib.suppress(OSError):
            conn.settimeout(2.0)
            header = _read_exactly(conn, 2)
            wire = _read_exactly(conn, struct.unpack("!H", header)[0])
            response = self._respond(wire)
            if response is not None:
                conn.sendall(response.to_wire(prepend_length=True))

    def _respond(self, wire: bytes) -> dns.message.Message | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        with self._lock:
            self._queries.append(
                (question.name.to_text(omit_final_dot=True), dns.rdatatype.to_text(question.rdtype))
            )
            if question.name in self._failures:
                rcode = self._failures[question.name]
                if rcode is None:
                    return None
                response.set_rcode(rcode)
                return response
            self._answer(response, question.name, question.rdtype)
        return response

    def _answer(
        self,
        response: dns.message.Message,
        name: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        depth: int = 0,
    ) -> None:
        rrset = self._records.get((name, rdtype))
        alias = self._records.get((name, dns.rdatatype.CNAME))
        if rrset is None and alias is not None and depth < _MAX_CHAIN:
            # RFC 1034 §3.6.2: a name with a CNAME answers every type with the alias, and
            # the server follows it when it holds the target (a Return-Path name's TXT).
            response.answer.append(alias)
            self._answer(response, next(iter(alias)).target, rdtype, depth + 1)
        elif rrset is not None:
            response.answer.append(rrset)
        elif not any(owner.is_subdomain(name) for owner, _ in self._records):
            # A name with records below it exists (RFC 8020): only a name without any is NXDOMAIN.
            response.set_rcode(dns.rcode.NXDOMAIN)


def _make_rrset(
    owner: dns.name.Name, kind: dns.rdatatype.RdataType, values: tuple[str, ...], ttl: int
) -> dns.rrset.RRset:
    if not values:
        raise ValueError("add() needs at least one value")
    if kind == dns.rdatatype.TXT:
        rdatas = [
            dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, kind, _txt_strings(value))
            for value in values
        ]
        return dns.rrset.from_rdata_list(owner, ttl, rdatas)
    # Names in values are absolute even without their final dot.
    return dns.rrset.from_text_list(
        owner, ttl, "IN", kind, values, origin=dns.name.root, relativize=False
    )


def _txt_strings(value: str) -> list[bytes]:
    """A TXT value, quoted or not, as the ≤255-octet strings that carry it on the wire."""
    parts = _QUOTED.findall(value) if value.lstrip().startswith('"') else [value]
    text = "".join(re.sub(r"\\(.)", r"\1", part) for part in parts).encode()
    if not text:
        return [b""]
    return [text[i : i + _TXT_CHUNK] for i in range(0, len(text), _TXT_CHUNK)]


def _bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(20):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            udp.bind((host, port))
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((host, udp.getsockname()[1]))
            tcp.listen(16)
            return udp, tcp
        except OSError:
            udp.close()
            tcp.close()
            if port:
                raise
    raise OSError(f"no port free for both UDP and TCP on {host}")


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = conn.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("short read")
        chunks.extend(chunk)
    return bytes(chunks)
