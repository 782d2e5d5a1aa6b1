"""The wire: one JSON object per line, UTF-8, strict JSON, at most `MAX_LINE` bytes a line.

See the package docstring for the message types and the versioning rule. This module holds
the constants, the builders of every message, the framing (`encode_line`, `LineReader`) and
the checks a receiver makes; `codec.py` turns engine events into dicts and back.
"""

from __future__ import annotations

import json
from typing import Any

from anyio import EndOfStream
from anyio.abc import ByteReceiveStream

from ... import __version__
from ..events import Event
from .codec import EVENT_TYPES, EventDecodeError, UnknownEventKind, decode_event, encode_event

PROTOCOL_VERSION = 1          # the major: bumped only by an incompatible change
MAX_LINE = 1 << 20            # bytes of one message, without its newline
CLIENT_KINDS = ("tui", "headless", "cli")
SERVER_VERSION = __version__

# Connection-level error codes (a {"type": "error"} line, then the server closes).
PROTOCOL = "protocol"            # unsupported protocol major, or no hello first
FORBIDDEN = "forbidden"          # the peer is another user
BAD_MESSAGE = "bad-message"      # not a JSON object, not UTF-8, invalid JSON
TOO_LONG = "too-long"            # a line over MAX_LINE
SLOW_CONSUMER = "slow-consumer"  # too many undelivered events: reconnect and resync
SHUTDOWN = "shutdown"            # the service is stopping
TIMEOUT = "timeout"              # no hello in time
# Reply error codes ({"type": "reply", "ok": false, "error": {...}}); handlers add their own.
UNKNOWN_METHOD = "unknown-method"
BAD_REQUEST = "bad-request"
INTERNAL = "internal"
TOO_LARGE = "too-large"

__all__ = [
    "CLIENT_KINDS", "EVENT_TYPES", "MAX_LINE", "PROTOCOL_VERSION", "SERVER_VERSION",
    "EventDecodeError", "LineReader", "LineTooLong", "ProtocolError", "UnknownEventKind",
    "check_hello", "decode_event", "decode_line", "encode_event", "encode_line", "error",
    "event_message", "hello", "reply_error", "reply_ok", "request", "welcome",
]


class ProtocolError(Exception):
    """The peer broke the protocol; `code` is one of the connection-level codes above."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LineTooLong(ProtocolError):
    def __init__(self, limit: int = MAX_LINE) -> None:
        super().__init__(TOO_LONG, f"a message is longer than {limit} bytes")


class IncompleteMessage(ProtocolError):
    def __init__(self) -> None:
        super().__init__(BAD_MESSAGE, "the connection closed in the middle of a message")


# -- framing -----------------------------------------------------------------------------
def encode_line(message: dict[str, Any], *, limit: int = MAX_LINE) -> bytes:
    """The message as one line of ASCII JSON plus ``\\n``. LineTooLong past `limit`;
    ValueError/TypeError if it is not strict JSON (NaN, a set...).

    ``ensure_ascii`` escapes every byte outside printable ASCII, so no control character,
    bidi override or line separator from untrusted text (a video title) reaches a terminal
    or a log that someone views raw."""
    text = json.dumps(message, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    if len(text) > limit:
        raise LineTooLong(limit)
    return text.encode("ascii") + b"\n"


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_line(line: bytes) -> dict[str, Any]:
    """One received line (without its newline) as a dict, or ProtocolError(BAD_MESSAGE)."""
    try:
        data = json.loads(line.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(BAD_MESSAGE, f"not a JSON line: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError(BAD_MESSAGE, "a message is a JSON object with a string 'type'")
    return data


class LineReader:
    """Reads lines off a byte stream, refusing any longer than `limit` before buffering more."""

    def __init__(self, stream: ByteReceiveStream, *, limit: int = MAX_LINE) -> None:
        self._stream = stream
        self._limit = limit
        self._buffer = bytearray()
        self._scanned = 0

    async def readline(self) -> bytes | None:
        """The next line without its newline; None at a clean end of stream."""
        while True:
            index = self._buffer.find(b"\n", self._scanned)
            if index >= 0:
                if index > self._limit:
                    raise LineTooLong(self._limit)
                line = bytes(self._buffer[:index])
                del self._buffer[: index + 1]
                self._scanned = 0
                return line
            if len(self._buffer) > self._limit:
                raise LineTooLong(self._limit)
            self._scanned = len(self._buffer)
            try:
                chunk = await self._stream.receive()
            except EndOfStream:
                if self._buffer:
                    raise IncompleteMessage() from None
                return None
            self._buffer.extend(chunk)

    async def read_message(self) -> dict[str, Any] | None:
        line = await self.readline()
        return None if line is None else decode_line(line)


# -- messages ----------------------------------------------------------------------------
def hello(client: str, pid: int) -> dict[str, Any]:
    return {"type": "hello", "protocol": PROTOCOL_VERSION, "client": client, "pid": pid}


def welcome(server_pid: int) -> dict[str, Any]:
    return {"type": "welcome", "protocol": PROTOCOL_VERSION, "server_version": SERVER_VERSION,
            "pid": server_pid}


def error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def request(request_id: int | str, method: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "request", "id": request_id, "method": method, "args": args}


def reply_ok(request_id: int | str, result: Any) -> dict[str, Any]:
    return {"type": "reply", "id": request_id, "ok": True, "result": result}


def reply_error(request_id: int | str | None, code: str, message: str) -> dict[str, Any]:
    return {"type": "reply", "id": request_id, "ok": False, "error": {"code": code, "message": message}}


def event_message(batch: str, event: Event) -> dict[str, Any]:
    return {"type": "event", "batch": batch, "event": encode_event(event)}


def check_hello(message: dict[str, Any] | None) -> tuple[str, int | None]:
    """The (client kind, pid it claims) of a valid hello; ProtocolError(PROTOCOL) otherwise.

    A client kind this version does not list is accepted (a newer face); the protocol major
    must equal ours. The claimed pid is informational: the kernel's is in the peer credentials."""
    if message is None or message.get("type") != "hello":
        raise ProtocolError(PROTOCOL, "the first message must be a hello")
    version = message.get("protocol")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolError(PROTOCOL, "the hello must carry an integer 'protocol'")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            PROTOCOL,
            f"this service speaks protocol {PROTOCOL_VERSION} (bulk-transcribe {SERVER_VERSION}); "
            f"the client speaks {version}: run the same version of bulk-transcribe on both sides, "
            "or stop the running service so that one of this version starts",
        )
    client = message.get("client")
    if not isinstance(client, str) or not client or len(client) > 32:
        raise ProtocolError(PROTOCOL, "the hello must name its client ('tui', 'headless' or 'cli')")
    pid = message.get("pid")
    return client, pid if isinstance(pid, int) and not isinstance(pid, bool) else None
