"""Framing on the candidate's socket: a 4-byte big-endian length, then a JSON message.

Kept tiny and blocking: this is the code the candidate side runs. The trusted side reads
with deadlines instead (see `candidate_process.py`).
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from codebudget.sandbox.codec import dumps, loads

__all__ = ["HEADER", "MAX_MESSAGE", "dumps", "recv", "send", "send_bytes"]

HEADER = struct.Struct(">I")
MAX_MESSAGE = 64 << 20  # the largest reply the judge accepts from a candidate


def send(sock: socket.socket, message: Any) -> None:
    send_bytes(sock, dumps(message))


def send_bytes(sock: socket.socket, data: bytes) -> None:
    sock.sendall(HEADER.pack(len(data)) + data)


def recv(sock: socket.socket) -> Any | None:
    """The next message, or None when the other side has closed the connection."""
    head = _recv_exact(sock, HEADER.size)
    if head is None:
        return None
    (size,) = HEADER.unpack(head)
    body = _recv_exact(sock, size)
    return None if body is None else loads(body)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)
