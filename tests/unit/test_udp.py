"""The daemon's address and the socket (backends/udp.py): AWS_XRAY_DAEMON_ADDRESS's forms, one socket per process
(a new one in a forked child), and documents reaching the address from another process."""

from __future__ import annotations

import base64
import json
import logging
import os
import select
import socket
import struct
import subprocess
import sys
import types
from pathlib import Path

import pytest

import lambda_env
from forked import in_forked_child
from lambda_tracer import Tracer
from lambda_tracer.backends import otlp, otlp_spans, udp, xray
from lambda_tracer_local.daemon import XRayDaemon, new_trace_header

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ("127.0.0.1", 2000)),
        ("", ("127.0.0.1", 2000)),
        ("127.0.0.2:3000", ("127.0.0.2", 3000)),
        ("udp:10.0.0.1:2000", ("10.0.0.1", 2000)),
        ("tcp:10.0.0.1:2000 udp:10.0.0.2:2001", ("10.0.0.2", 2001)),
        ("udp:10.0.0.2:2001 tcp:10.0.0.1:2000", ("10.0.0.2", 2001)),
        ("xray-daemon:2000", ("xray-daemon", 2000)),
        ("[::1]:2000", ("::1", 2000)),
    ],
)
def test_daemon_address_forms(raw: str | None, expected: tuple[str, int]) -> None:
    assert udp.parse_address(raw) == expected


@pytest.mark.parametrize(
    "raw", ["not an address", "host", "host:0", "host:99999", "tcp:h:1", "udp:h:1 udp:h:2", ":2000"]
)
def test_bad_daemon_addresses_are_refused(raw: str) -> None:
    with pytest.raises(udp.AddressError):
        udp.parse_address(raw)


def test_a_forked_child_sends_through_its_own_socket() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    sender = udp.Sender(f"127.0.0.1:{receiver.getsockname()[1]}")
    sender.send(b"{}")
    parent_socket = sender.socket

    def child() -> bytes:  # whether it got a new socket, then a datagram through it
        udp._sender = sender
        udp._after_fork()  # what os.register_at_fork runs in a real fork (run here for the copy we use)
        sender.send(b'{"child":1}')
        return b"new" if sender.socket is not parent_socket else b"shared"

    assert in_forked_child(child) == b"new"
    received = {receiver.recv(65_535) for _ in range(2)}
    assert received == {udp.HEADER + b"{}", udp.HEADER + b'{"child":1}'}


def _refused_sender(why: str = "port") -> tuple[udp.Sender, tuple[str, int]]:
    """A sender whose connected socket holds an earlier datagram's refusal (the daemon stand-in was gone), and the
    address it sends to. A connected UDP socket turns an ICMP "port unreachable" into the next send's
    ConnectionRefusedError, and that send is not made."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    address = receiver.getsockname()
    sender = udp.Sender(f"127.0.0.1:{address[1]}")
    sender.send(b'{"n":1}')
    assert sender.socket is not None and sender.socket.getpeername() == address  # connected: no route per datagram
    receiver.settimeout(5)
    assert receiver.recv(65_535) == udp.HEADER + b'{"n":1}'
    receiver.close()
    _refuse_next(sender, why)
    return sender, address


#: ICMP "destination unreachable" codes a connected UDP socket keeps as its next send's error (Linux): port unreachable
#: (ECONNREFUSED: nobody listened) and communication administratively prohibited (EHOSTUNREACH: a firewall's REJECT).
#: An unconnected socket (sendto) keeps none. (Fragmentation needed, EMSGSIZE, is another, not made here: it would set
#: the loopback route's path MTU for every process of the network namespace for ten minutes.)
UNREACHABLE = {"port": 3, "prohibited": 13}


def _refuse_next(sender: udp.Sender, why: str = "port") -> None:
    """An ICMP error about an earlier datagram, which the socket keeps as its error for the next send: for "port", a
    datagram to the sender's address, where nobody listens (the kernel answers); else the error a router or firewall
    would send, made here (a raw socket: needs CAP_NET_RAW)."""
    assert sender.socket is not None
    if why == "port":
        sender.send(b'{"n":2}')
    else:
        _unreachable(sender.socket, UNREACHABLE[why])
    poller = select.poll()
    poller.register(sender.socket.fileno(), select.POLLERR)
    assert poller.poll(5000), "the refusal never reached the socket"  # the barrier: the error is pending


def _unreachable(sock: socket.socket, code: int) -> None:
    """An ICMP "destination unreachable" (code ``code``) about a datagram from ``sock`` to its peer (IPv4 loopback)."""
    try:
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except PermissionError:
        pytest.skip("a raw socket (CAP_NET_RAW) makes the ICMP error")
    (source, source_port), (peer, peer_port) = sock.getsockname(), sock.getpeername()
    quoted = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, socket.IPPROTO_UDP, 0, socket.inet_aton(source), socket.inet_aton(peer)
    ) + struct.pack("!HHHH", source_port, peer_port, 8, 0)
    message = struct.pack("!BBHI", 3, code, 0, 0) + quoted  # type, code, checksum, unused
    total = sum(struct.unpack(f"!{len(message) // 2}H", message))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    with raw:
        raw.sendto(message[:2] + struct.pack("!H", ~total & 0xFFFF) + message[4:], (source, 0))


@pytest.mark.parametrize("why", list(UNREACHABLE))
def test_a_datagram_is_not_lost_for_an_earlier_ones_refusal(why: str) -> None:
    """Sender.send sends it again, so a daemon that was briefly away loses only what it missed (and a datagram an
    ICMP error about an earlier one was kept for goes, as it would by ``sendto``)."""
    sender, address = _refused_sender(why)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as back:
        back.bind(address)  # the daemon is back, on the same port
        back.settimeout(5)
        sender.send(b'{"n":3}')
        assert back.recv(65_535) == udp.HEADER + b'{"n":3}'


@pytest.mark.parametrize("why", list(UNREACHABLE))
@pytest.mark.parametrize("exporter", ["xray", "otlp"])
def test_a_span_is_not_lost_for_an_earlier_datagrams_refusal(
    exporter: str, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spans' own sends, without Sender.send (xray.py's for every span, otlp.py's for a warm handler span), send
    it again too: a cold invocation and two warm ones, each with a refusal pending."""
    general: list[object] = []  # otlp mode: the spans its general path sent (a warm handler span is not one)
    if exporter == "otlp":
        _otlp_mode(monkeypatch)
        export = otlp._export
        monkeypatch.setattr(otlp, "_export", lambda *args: general.append(args[0]) or export(*args))
    sender, address = _refused_sender(why)
    monkeypatch.setattr(udp, "_sender", sender)
    handler = Tracer(service="svc").capture_lambda_handler(lambda event, context: 7)
    try:
        for _ in range(3):
            header, trace_id, _ = new_trace_header()
            monkeypatch.setenv("_X_AMZN_TRACE_ID", header)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as back:
                back.bind(address)  # the daemon is back, on the same port
                back.settimeout(5)
                assert handler({}, lambda_env.FakeContext()) == 7
                body = back.recv(65_535).removeprefix(udp.HEADER)
            if exporter == "xray":
                assert json.loads(body)["trace_id"] == trace_id
            else:  # T1S and an ExportTraceServiceRequest in base64, which holds the trace id's 16 bytes
                assert body[:3] == b"T1S" and bytes.fromhex(trace_id[2:10] + trace_id[11:]) in base64.b64decode(
                    body[3:]
                )
            _refuse_next(sender, why)
        assert len(general) == (1 if exporter == "otlp" else 0)  # the warm ones through otlp.py's own send
    finally:
        monkeypatch.undo()
        otlp.configure()


#: How user code can take the socket's descriptor away: ``os.close`` of it (or of every fd: the next send's EBADF), or
#: that and the number given to another file (an ``open`` right after: ENOTSOCK).
LOST = ["closed", "reused"]


def _take_descriptor(sock: socket.socket, how: str) -> int | None:
    """Take ``sock``'s descriptor away as user code would (``how``: one of LOST); the number, when it is now the test's
    file (/dev/null), which the sender must leave open."""
    number = sock.fileno()
    if how == "closed":
        os.close(number)
        return None
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, number)  # the number is /dev/null's now, as a file opened after the close would get it
    os.close(null)
    return number


def _give_back(sock: socket.socket, number: int | None, warnings: list[str]) -> None:
    """After the test: the old socket object never closes the number (the user's now), which is still the test's
    /dev/null (the sender did not close it either); and one warning in all, naming no more than the cause."""
    sock.detach()
    if number is not None:
        assert os.path.samestat(os.fstat(number), os.stat(os.devnull))
        os.close(number)
    assert len(warnings) == 1 and "socket to the X-Ray daemon" in warnings[0], warnings


@pytest.mark.parametrize("how", LOST)
def test_a_datagram_goes_through_a_new_socket_when_the_descriptor_was_taken(
    how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Sender.send: the socket made again once, not every later datagram lost after the first error."""
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        sender = udp.Sender(f"127.0.0.1:{receiver.getsockname()[1]}")
        sender.send(b'{"n":1}')
        assert receiver.recv(65_535) == udp.HEADER + b'{"n":1}'
        old = sender.socket
        assert old is not None
        number = _take_descriptor(old, how)
        try:
            for body in (b'{"n":2}', b'{"n":3}'):
                sender.send(body)
                assert receiver.recv(65_535) == udp.HEADER + body
        finally:
            _give_back(old, number, [record.getMessage() for record in caplog.records])


@pytest.mark.parametrize("how", LOST)
@pytest.mark.parametrize("exporter", ["xray", "otlp"])
def test_later_invocations_are_sent_after_the_descriptor_was_taken(
    exporter: str, how: str, daemon: XRayDaemon, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Between invocations, user code takes the socket's descriptor: every later invocation's spans still reach the
    daemon stand-in (xray.py's own send for every span, otlp.py's for a warm handler span), with one warning."""
    caplog.set_level(logging.WARNING, logger="lambda_tracer")
    if exporter == "otlp":
        _otlp_mode(monkeypatch)
    sender = udp.Sender(daemon.address)
    monkeypatch.setattr(udp, "_sender", sender)
    handler = Tracer(service="svc").capture_lambda_handler(lambda event, context: 7)
    try:
        assert lambda_env.invoke(handler).documents
        old = sender.socket
        assert old is not None
        number = _take_descriptor(old, how)
        try:
            for _ in range(3):
                call = lambda_env.invoke(handler)
                assert call.result == 7 and call.documents
                assert {document["trace_id"] for document in call.documents} == {call.trace_id}
        finally:
            _give_back(old, number, [record.getMessage() for record in caplog.records])
    finally:
        monkeypatch.undo()
        otlp.configure()


def test_daemon_sees_documents_from_other_process() -> None:
    """Sanity check of the stand-in itself, so a silent daemon cannot make tests pass."""
    with XRayDaemon() as other:
        header, trace_id, parent = new_trace_header()
        code = (
            "import os\n"
            f"os.environ['_X_AMZN_TRACE_ID'] = {header!r}\n"
            "from lambda_tracer import Tracer\n"
            "t = Tracer(service='x')\n"
            "print(t.capture_lambda_handler(lambda e, c: 1)({}, None))\n"
        )
        env = dict(
            os.environ, LAMBDA_TASK_ROOT="/tmp", AWS_XRAY_DAEMON_ADDRESS=other.address, PYTHONPATH=str(ROOT / "layer")
        )
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        [doc] = other.wait_for(trace_id)
        assert doc["parent_id"] == parent and doc["name"] == "## <lambda>".replace("<", "").replace(">", "")


def _nested_array_attribute(depth: int) -> bytes:
    """An OTLP datagram of one span whose attribute is an array nested ``depth`` deep (about 4 bytes a level)."""

    def field(number: int, payload: bytes) -> bytes:
        length, size = b"", len(payload)
        while size > 0x7F:
            length, size = length + bytes([size & 0x7F | 0x80]), size >> 7
        return bytes([number << 3 | 2]) + length + bytes([size]) + payload

    value = field(1, b"x")  # AnyValue{string_value}
    for _ in range(depth):
        value = field(5, field(1, value))  # AnyValue{array_value: ArrayValue{values: [value]}}
    attribute = field(9, field(1, b"k") + field(2, value))
    span = field(1, b"\x01" * 16) + field(2, b"\x02" * 8) + field(5, b"deep") + attribute
    return b'{"format":"json","version":1}\nT1S' + base64.b64encode(field(1, field(2, field(2, span))))


def test_a_datagram_of_no_document_is_rejected_and_the_daemon_goes_on() -> None:
    """JSON that is not an object, nesting deeper than the parser goes (X-Ray document or OTLP span): kept in
    ``rejected`` like any malformed datagram. A JSON array was taken as a document and every later look
    (``for_trace``, so each invoke) raised AttributeError; deep nesting raised RecursionError on every look."""
    header = b'{"format":"json","version":1}\n'
    deep = header + b"[" * 30_000 + b"]" * 30_000
    bad = [header + b"[1, 2]", header + b'"text"', deep, _nested_array_attribute(1500)]
    assert all(len(data) < 65_000 for data in bad)  # each one fits in a UDP datagram
    with XRayDaemon() as daemon, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        _, trace_id, parent = new_trace_header()
        good = {"name": "ok", "id": "1" * 16, "trace_id": trace_id, "parent_id": parent, "start_time": 1, "end_time": 2}
        for data in [*bad, header + json.dumps(good).encode()]:
            sender.sendto(data, ("127.0.0.1", daemon.port))
        assert daemon.wait_for(trace_id) == [good]
        assert daemon.rejected == bad and daemon.documents == [good]


def _otlp_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """As LAMBDA_TRACER_EXPORTER=otlp makes it at init, and the runtime's request id."""
    monkeypatch.setattr(xray, "EXPORTER", otlp)
    monkeypatch.setenv("LAMBDA_TRACER_EXPORTER", "otlp")
    otlp.configure()
    runtime = types.SimpleNamespace(_GLOBAL_AWS_REQUEST_ID=lambda_env.FakeContext.aws_request_id)
    monkeypatch.setattr(otlp_spans, "_runtime", runtime)
