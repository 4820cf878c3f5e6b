"""Hostile input on the live WebSocket API of the offline stack, over real sockets: frames too large
or malformed get the close code RFC 6455 names and the gateway still takes new connections; messages
that are valid frames but not valid requests get an ``error`` message and the socket stays usable;
credentials that are not a token of ours are refused at the upgrade."""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.builders import received, subscribe
from tests.e2e.conftest import Stack
from tests.e2e.test_offline_stack import setup_project

pytestmark = pytest.mark.e2e

WAIT = 60.0  # a guard against a hang, never a measure
KB = 1024
TEXT, BINARY, CLOSE, PING = 0x1, 0x2, 0x8, 0x9
CONTINUATION = 0x0


@pytest.fixture(scope="module")
def owner(stack: Stack) -> tuple[str, str]:
    token, project_id, _ = setup_project(stack.client, "live-hostile@example.com")
    return token, project_id


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, masked: bool = True) -> bytes:
    """One frame as a client sends it (masked), or as it must not."""
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    mask_bit = 0x80 if masked else 0
    size = len(payload)
    if size < 126:
        header = bytes([first, mask_bit | size])
    elif size < 1 << 16:
        header = bytes([first, mask_bit | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([first, mask_bit | 127]) + size.to_bytes(8, "big")
    if not masked:
        return header + payload
    key = os.urandom(4)
    mask = (key * (size // 4 + 1))[:size]
    return header + key + (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(size, "big")


class RawSocket:
    """A WebSocket connection driven byte by byte, to send what no client library would."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", stack.port), timeout=WAIT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        )  # fmt: skip
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed without a close frame")
        return chunk

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.buffer += self._recv()
        taken, self.buffer = self.buffer[:size], self.buffer[size:]
        return taken

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_frame(self) -> tuple[int, bytes]:
        first, second = self._take(2)
        size = second & 0x7F
        if size == 126:
            size = int.from_bytes(self._take(2), "big")
        elif size == 127:
            size = int.from_bytes(self._take(8), "big")
        return first & 0x0F, self._take(size)

    def close_code(self) -> int:
        """The code of the server's close frame (frames before it are skipped)."""
        while True:
            opcode, payload = self.next_frame()
            if opcode == CLOSE:
                return int.from_bytes(payload[:2], "big")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(stack: Stack, owner: tuple[str, str]) -> Iterator[RawSocket]:
    opened = RawSocket(stack, owner[0])
    yield opened
    opened.close()


def still_serving(stack: Stack, owner: tuple[str, str]) -> None:
    """A new connection is accepted and subscribes; the HTTP API answers."""
    token, project_id = owner
    with connect(f"ws://127.0.0.1:{stack.port}/ws?token={token}", open_timeout=WAIT) as socket_:
        assert subscribe(socket_, project_id, WAIT) == {"type": "subscribed", "project_id": project_id}
    assert stack.client.call("GET", "/health").status == 200


BAD_FRAMES = {
    "a frame over 128 KB": ([frame(TEXT, b"x" * 129 * KB)], 1009),
    "a frame that says 2^63 bytes": ([bytes([0x81, 0xFF]) + (2**63 - 1).to_bytes(8, "big")], 1009),
    "fragments over 128 KB together": ([frame(TEXT, b"x" * 100 * KB, fin=False),
                                        frame(CONTINUATION, b"x" * 100 * KB)], 1009),
    "text that is not UTF-8": ([frame(TEXT, b'{"action": "subscribe\xff"}')], 1007),
    "text split inside a character": ([frame(TEXT, "é".encode()[:1], fin=False), frame(CONTINUATION, b"x")], 1007),
    "an unmasked frame": ([frame(TEXT, b"{}", masked=False)], 1002),
    "reserved bits": ([frame(TEXT, b"{}", rsv=0b100)], 1002),
    "an unknown opcode": ([frame(0x3, b"{}")], 1002),
    "a continuation with nothing to continue": ([frame(CONTINUATION, b"{}")], 1002),
    "a new message inside a fragmented one": ([frame(TEXT, b"{", fin=False), frame(TEXT, b"}")], 1002),
    "a fragmented ping": ([frame(PING, b"x", fin=False)], 1002),
    "a ping over 125 bytes": ([frame(PING, b"x" * 126)], 1002),
    "a close of one byte": ([frame(CLOSE, b"\x03")], 1002),
    "a close with code 999": ([frame(CLOSE, (999).to_bytes(2, "big"))], 1002),
    "a close whose reason is not UTF-8": ([frame(CLOSE, (1000).to_bytes(2, "big") + b"\xff")], 1007),
}  # fmt: skip


@pytest.mark.parametrize(("frames", "code"), BAD_FRAMES.values(), ids=list(BAD_FRAMES))
def test_a_bad_frame_closes_with_its_code_and_new_connections_are_taken(
    stack: Stack, owner: tuple[str, str], raw: RawSocket, frames: list[bytes], code: int
) -> None:
    for data in frames:
        try:
            raw.send(data)
        except OSError:  # the server may close before it has read all of a frame it refused
            break
    assert raw.close_code() == code
    still_serving(stack, owner)


BAD_MESSAGES = {
    "10,000-deep JSON": "[" * 10_000 + "]" * 10_000,
    "10,000-deep action": '{"action": ' * 10_000 + "1" + "}" * 10_000,
    "NaN": '{"action": "subscribe", "project_id": NaN}',
    "a project id given twice": '{"action": "subscribe", "project_id": "prj_a", "project_id": "{project}"}',
    "a project id of ../": '{"action": "subscribe", "project_id": "../../{project}"}',
    "a project id with NUL": '{"action": "subscribe", "project_id": "{project}\\u0000"}',
    "a 127 KB project id": '{"action": "subscribe", "project_id": "prj_' + "a" * 127 * KB + '"}',
    "an unknown action": '{"action": "admin", "project_id": "{project}"}',
    "not JSON": "subscribe {project}",
    "binary that is not UTF-8": b"\xff\xfe\x00",
}


@pytest.mark.parametrize("message", BAD_MESSAGES.values(), ids=list(BAD_MESSAGES))
def test_a_bad_message_is_answered_and_the_socket_stays_usable(
    stack: Stack, owner: tuple[str, str], message: str | bytes
) -> None:
    token, project_id = owner
    with connect(f"ws://127.0.0.1:{stack.port}/ws?token={token}", open_timeout=WAIT) as socket_:
        socket_.send(message.replace("{project}", project_id) if isinstance(message, str) else message)
        answer = received(socket_, WAIT)
        assert (answer["type"], answer["code"]) == ("error", "VALIDATION_ERROR"), answer
        assert answer["message"]
        assert subscribe(socket_, project_id, WAIT) == {"type": "subscribed", "project_id": project_id}
    still_serving(stack, owner)


def _unsigned(alg: str) -> str:
    part = base64.urlsafe_b64encode(json.dumps({"alg": alg, "typ": "JWT"}).encode()).rstrip(b"=").decode()
    claims = base64.urlsafe_b64encode(json.dumps({"sub": "usr_x", "exp": 2**40}).encode()).rstrip(b"=").decode()
    return f"{part}.{claims}."


REFUSED_TOKENS = {
    "alg none": (_unsigned("none"), 401),
    "a 7 KB token": ("a" * 7 * KB, 401),
    "a 60 KB token": ("a" * 60 * KB, 414),  # a handshake's request line is at most 8 KB
    "a 100 KB token": ("a" * 100 * KB, 414),
    "CRLF and a header": (quote("x\r\nSet-Cookie: a=1"), 401),
    "NUL": ("%00", 401),
    "the token twice, the second forged": ("{token}&token=" + _unsigned("none"), 401),
}


@pytest.mark.parametrize(("forged", "status"), REFUSED_TOKENS.values(), ids=list(REFUSED_TOKENS))
def test_a_token_not_of_ours_is_refused_at_the_upgrade(
    stack: Stack, owner: tuple[str, str], forged: str, status: int
) -> None:
    url = f"ws://127.0.0.1:{stack.port}/ws?token=" + forged.replace("{token}", owner[0])
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=WAIT)
    assert refused.value.response.status_code == status
    assert not any("\r" in v or "\n" in v for _, v in refused.value.response.headers.raw_items())
    still_serving(stack, owner)
