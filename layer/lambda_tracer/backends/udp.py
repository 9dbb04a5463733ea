"""Sending documents to the X-Ray daemon: one UDP datagram each, to ``AWS_XRAY_DAEMON_ADDRESS``.

The address takes the forms the X-Ray SDKs document: ``host:port``, ``udp:host:port``, and the pair
``tcp:host:port udp:host:port`` (either order; only the UDP one is used here). It is resolved once. The
socket is made on first use and again in a forked child (Lambda Managed Instances fork their workers), so
no two processes share one, and again when its descriptor was closed under us (``Sender.resend``).
"""

from __future__ import annotations

import _socket  # socket.py's enums and helpers are not needed to send a datagram, and cost a cold start
import os

from .. import config

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

ADDRESS_VARIABLE = "AWS_XRAY_DAEMON_ADDRESS"
DEFAULT_ADDRESS = ("127.0.0.1", 2000)
#: The datagram header of every document, as the daemon expects it.
HEADER = b'{"format":"json","version":1}\n'


class AddressError(ValueError):
    """``AWS_XRAY_DAEMON_ADDRESS`` is set to something that is not an address."""


def parse_address(raw: str | None) -> tuple[str, int]:
    """``"127.0.0.1:2000"``, ``"udp:h:2000"``, ``"tcp:h:2000 udp:h:2001"`` -> (host, port) for UDP."""
    if raw is None or not raw.strip():
        return DEFAULT_ADDRESS
    parts = raw.split()
    if len(parts) == 2:
        udp = [part[4:] for part in parts if part.startswith("udp:")]
        if len(udp) != 1 or not any(part.startswith("tcp:") for part in parts):
            raise AddressError("two addresses must be one tcp: and one udp:")
        return _host_port(udp[0])
    if len(parts) != 1:
        raise AddressError("expected host:port")
    address = parts[0]
    if address.startswith("udp:"):
        address = address[4:]
    elif address.startswith("tcp:"):
        raise AddressError("a tcp: address alone gives no UDP address")
    return _host_port(address)


def _host_port(address: str) -> tuple[str, int]:
    host, colon, port = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise AddressError("expected host:port")
    return host, int(port)


def _target(host: str, port: int) -> tuple[int, int, int, tuple[Any, ...]]:
    """(family, type, protocol, address) to send to, as ``getaddrinfo`` gives them.

    A numeric address (Lambda's is ``169.254.79.129:2000``) is read as it is: ``getaddrinfo`` with a str host
    imports the IDNA codec (``encodings.idna``, ``stringprep``, ``unicodedata``), ~5.5 M instructions of a cold
    start, to learn nothing more. Names, and forms only the resolver reads (``127.1``, ``fe80::1%eth0``), go to it.
    """
    for family, sockaddr in ((_socket.AF_INET, (host, port)), (_socket.AF_INET6, (host, port, 0, 0))):
        try:
            _socket.inet_pton(family, host)
        except OSError:
            continue
        return family, _socket.SOCK_DGRAM, _socket.IPPROTO_UDP, sockaddr
    family, kind, protocol, _, address = _socket.getaddrinfo(host, port, 0, _socket.SOCK_DGRAM)[0]
    return family, kind, protocol, address


class Sender:
    """A UDP socket to the daemon; raises on anything that stops a datagram (the caller reports it).

    The socket is connected: the kernel then resolves the route once, not for every datagram, and ``send`` parses
    no address (~1.5 µs less per datagram). A connected UDP socket reports an ICMP error about an earlier datagram (a
    "port unreachable": nothing listened on the daemon's port then; an "administratively prohibited": a firewall; a
    "fragmentation needed") as the next send's ``OSError`` (``ConnectionRefusedError``, ``EHOSTUNREACH``, ``EMSGSIZE``),
    without sending that one: a send that raised is made again, once, so no datagram is lost for another's error, as
    with ``sendto`` (an error of its own raises again; a send that raised sent nothing, so none goes twice).
    ``resend`` is that second send, also for the senders without ``send`` (xray.py's, otlp.py's).
    """

    def __init__(self, raw_address: str | None) -> None:
        self._target = _target(*parse_address(raw_address))
        #: The socket, connected, once the first datagram was sent (xray.py sends through it without ``send``).
        self.socket: _socket.socket | None = None

    def send(self, body: bytes) -> None:
        data = HEADER + body
        sock = self.socket or self._connect()
        try:
            sock.send(data)
        except OSError as error:  # an earlier datagram's ICMP error, reported here (see the class): sent again
            self.resend(sock, data, error)

    def resend(self, sock: _socket.socket, data: bytes, error: OSError) -> None:
        """``data`` (header included) sent again after ``sock.send(data)`` raised ``error``: on the same socket (an
        earlier datagram's ICMP error), or on a new one when the descriptor is no longer ours (user code closed every
        fd, or ``os.close`` of ours, and maybe reused the number: EBADF, ENOTSOCK). Without that, every later
        datagram would be lost. Only the failure path pays: the send that works costs what it did."""
        import errno  # built in, and needed only here

        if error.errno in (errno.EBADF, errno.ENOTSOCK):
            if self.socket is sock:  # (another thread may have replaced it already)
                self.socket = None
                # Detached, not closed: the number may be someone else's file by now, and closing the object (or
                # its finalizer) would close that.
                sock.detach()
                config.report_once(
                    ("daemon socket", str(error.errno)),
                    f"the socket to the X-Ray daemon was closed by someone else ({errno.errorcode.get(error.errno)});"
                    " sending through a new one",
                )
            sock = self.socket or self._connect()
        sock.send(data)

    def _connect(self) -> _socket.socket:
        family, kind, protocol, address = self._target
        sock = _socket.socket(family, kind, protocol)
        try:
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        self.socket = sock
        return sock

    def forget_socket(self) -> None:
        """In a forked child, or a restored snapshot: the next datagram goes through a new socket."""
        self.socket = None


_sender: Sender | None = None
_failed = False


def sender() -> Sender | None:
    """The process's sender; None when the daemon address cannot be used (reported once, then remembered)."""
    global _sender, _failed
    if _sender is None and not _failed:
        raw = config.get_raw(ADDRESS_VARIABLE)
        try:
            _sender = Sender(raw)
        except (OSError, ValueError) as error:
            _failed = True
            config.report_once(
                ("daemon address",),
                f"cannot send to {ADDRESS_VARIABLE}={config.shown(raw or '')} "
                f"({config.error_place(error)}); recording nothing",
            )
    return _sender


def reset() -> None:
    """Forget the sender (tests, and a changed address)."""
    global _sender, _failed
    _sender, _failed = None, False


def _after_fork() -> None:
    if _sender is not None:
        _sender.forget_socket()


os.register_at_fork(after_in_child=_after_fork)
