"""What runs inside the candidate's process, after it has been confined.

It loads the program the way human-eval does (`exec` in a fresh dict) and then answers
calls: the trusted judge names a function and sends arguments; the reply is the return
value as tagged data, or the exception's type name. It never sees a test or an expected
value, so there is nothing here worth attacking: whatever the program does to this loop
(replace it, print, exit, write to the socket) can only make its own answers wrong.
"""

from __future__ import annotations

import os
import socket
from typing import Any, NoReturn

from codebudget.sandbox import wire
from codebudget.sandbox.codec import decode, digest_of_repr, encode

DIGEST_OVER = 8 << 20  # outputs larger than this travel as a canonical digest (IO tests)

SOCKET_FD = 3


def serve() -> NoReturn:
    sock = socket.socket(fileno=SOCKET_FD)
    namespace: dict[str, Any] = {}
    while True:
        message = wire.recv(sock)
        if message is None:
            os._exit(0)
        op = message[0]
        if op == "load":
            _reply(sock, _load(message[1], namespace))
        elif op == "call":
            _reply(sock, _call(namespace, message[1], message[2]))
        elif op == "calls":
            _calls(sock, namespace, message[1], message[2])
        else:
            _reply(sock, ["error", f"unknown op {op!r}"])


def _reply(sock: socket.socket, reply: list[Any]) -> bool:
    """Send a reply; a value too big or unencodable becomes an exception reply."""
    try:
        data = wire.dumps(reply)
        if len(data) > wire.MAX_MESSAGE:
            raise ValueError(f"return value of {len(data)} bytes is too large")
    except (ValueError, RecursionError) as exc:
        wire.send(sock, ["exc", "UnencodableValue", str(exc)[:200]])
        return False
    wire.send_bytes(sock, data)
    return True


def _load(source: str, namespace: dict[str, Any]) -> list[Any]:
    try:
        # dont_inherit: the program must not get this module's `from __future__ import annotations`
        code = compile(source, "<candidate>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: source with NUL bytes
        return ["syntax", type(exc).__name__, _describe(exc)]
    except BaseException as exc:  # RecursionError/MemoryError while compiling
        return ["exc", type(exc).__name__, _describe(exc)]
    try:
        exec(code, namespace)
    except BaseException as exc:
        return ["exc", type(exc).__name__, _describe(exc)]
    return ["ok"]


def _call(namespace: dict[str, Any], name: str, args: Any) -> list[Any]:
    fn = namespace.get(name)
    if fn is None:
        return ["exc", "NameError", f"name {name!r} is not defined"]
    try:
        result = fn(*decode(args, namespace))
        return ["ret", encode(result)]
    except BaseException as exc:
        return ["exc", type(exc).__name__, _describe(exc)]


def _calls(sock: socket.socket, namespace: dict[str, Any], name: str, arg_lists: list[Any]) -> None:
    """Run one function on many inputs, one reply per input; stop at the first exception."""
    fn = namespace.get(name)
    if fn is None:
        _reply(sock, ["exc", "NameError", f"name {name!r} is not defined"])
        return
    for args in arg_lists:
        try:
            result = fn(*decode(args, namespace))
            hexdigest = digest_of_repr(result, DIGEST_OVER)
            reply = ["digest", hexdigest] if hexdigest else ["ret", encode(result)]
        except BaseException as exc:
            _reply(sock, ["exc", type(exc).__name__, _describe(exc)])
            return
        if not _reply(sock, reply):
            return
    _reply(sock, ["done"])


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:
        text = "?"
    if isinstance(exc, SyntaxError) and exc.lineno:
        text = f"{exc.msg} (line {exc.lineno})"
    return text[:300]

