"""The per-user background service's transport: a local socket that faces attach to and detach from.

A batch run by the service survives the terminal that started it (a closed window, a dropped
SSH session); the Textual app and the headless printer become clients that attach, follow the
engine's events and send controls, like tmux clients to the tmux server. The transport and
the protocol are generic; what requests exist and what they do is the handler's (batches.py).

Structure (one file each):
- `paths.py`: where the socket lives (``$BULK_TRANSCRIBE_RUNTIME_DIR``, else
  ``$XDG_RUNTIME_DIR/bulk-transcribe``, else ``/tmp/bulk-transcribe-<uid>``), the private-folder
  checks, and the lock file that makes the service one per user.
- `codec.py`: engine events to dicts and back, generically from the dataclasses' hints.
- `protocol.py`: the messages, the framing and the handshake check.
- `peer.py`: who is at the other end of the socket (SO_PEERCRED / LOCAL_PEERCRED).
- `outbox.py`: one connection's bounded send queue: the backpressure policy.
- `listen.py`: taking the lock and the socket, removing a dead service's socket safely.
- `server.py`: `Server`, accepting, checking, dispatching to a `Handler`, publishing events.
- `client.py`: `connect` (async, with `request` and `events`) and `call` (one sync request).
- `batches.py`: `BatchService`, the handler: the methods (start, list, attach, detach, control,
  shutdown) and the task group every batch's engine runs in; `batch.py`: one batch's state and
  what a face attaching late is replayed.
- `accounts.py`: one rate limiter per account (API host and key digest), a fair `Share` per batch.
- `daemon.py`: the service process (`serve`, idle exit, signals); `spawn.py`: starting it on
  demand, detached, from any face; `__main__.py`: ``python -m bulk_transcribe.core.service``.

Messages. Each is one JSON object on one line (UTF-8, in fact ASCII: see below), at most
1 MiB without its newline; a longer line ends the connection with ``too-long``.

    client -> service   {"type": "hello", "protocol": 1, "client": "tui"|"headless"|"cli", "pid": 123}
    service -> client   {"type": "welcome", "protocol": 1, "server_version": "0.1.0", "pid": 456}
    client -> service   {"type": "request", "id": 7, "method": "pause", "args": {"batch": "talks"}}
    service -> client   {"type": "reply", "id": 7, "ok": true, "result": ...}
                        {"type": "reply", "id": 7, "ok": false, "error": {"code": "...", "message": "..."}}
    service -> client   {"type": "event", "batch": "talks", "event": {"kind": "Progress", "total": 40, ...}}
    service -> client   {"type": "error", "code": "...", "message": "..."}   then the service hangs up

The hello comes first; anything else first is a ``protocol`` error. Requests of one connection
are answered one at a time, in order (a client wanting parallel requests opens a second
connection); ``id`` is an int or a short string chosen by the client. ``ping`` is built in; every
other method goes to the handler. Events come only for batches the handler subscribed the
connection to, and may arrive before the reply of the request that subscribed it. An event is
``{"kind": <class name in core.events>, <field>: <value>...}``: enums by value, tuples as lists,
nested dataclasses (BucketUsage) as objects. Connection error codes: protocol, forbidden,
bad-message, too-long, slow-consumer, shutdown, timeout; reply codes: unknown-method,
bad-request, internal, too-large, plus the handler's own.

Versioning. ``protocol`` is one integer, bumped only by an incompatible change; the service
accepts exactly its own and answers another with a ``protocol`` error that says what to do.
Compatible changes keep the number: new methods, new optional args, new result fields, new
event kinds and fields, new message types. So every receiver ignores fields it does not know,
gives missing fields their defaults, ignores message types it does not know (a request of an
unknown type that has an id gets a bad-request reply), and skips event kinds it does not know
(`ServiceClient.skipped_kinds`).

Backpressure (outbox.py). Publishing never blocks the engine. Per connection, waiting
``Progress`` and ``WorkerChanged`` events are conflated: a newer one replaces the waiting one
(per batch, per worker), so a slow client gets fewer frames but never a stale state. Every
other event is lossless; when 10,000 of them wait for one client, that client is disconnected
with ``slow-consumer`` (its view can no longer be repaired, but it can reconnect and resync),
and the others are unaffected.

Security model. No TCP, ever: a Unix socket only. Its folder is 0700 and ours, checked (not a
link, not another user's, no group/other bits) by the service and by every client; the socket
is created 0600 (umask at bind, then checked). Every connection's peer uid is read from the
kernel and must equal the service's effective uid, before anything is read from it; the client
checks the service's uid the same way before it sends anything. The deAPI key travels only
over this socket, from a face to the service, and lives only in the service's memory (never in
a file the service writes, never in an event or a reply). All text is sent as ASCII JSON,
every control character, bidi control (U+202A-U+202E, U+2066-U+2069) and non-ASCII character
escaped, so untrusted text (titles, server messages) cannot act on a terminal that shows the
raw stream; faces must still sanitise what they display.
"""

from .client import RequestFailed, ServiceClient, ServiceDisconnected, ServiceNotRunning, call, connect
from .codec import EVENT_TYPES, EventDecodeError, UnknownEventKind, decode_event, encode_event
from .listen import ServiceRunning
from .paths import ENV_RUNTIME_DIR, RuntimeDirError, ServicePaths, service_paths
from .peer import PeerCheckUnavailable, PeerCredentials, PeerRefused, check_peer, peer_credentials
from .protocol import MAX_LINE, PROTOCOL_VERSION, ProtocolError
from .server import Connection, Handler, Request, RequestError, Server

__all__ = [
    "ENV_RUNTIME_DIR", "EVENT_TYPES", "MAX_LINE", "PROTOCOL_VERSION",
    "Connection", "EventDecodeError", "Handler", "PeerCheckUnavailable", "PeerCredentials",
    "PeerRefused", "ProtocolError", "Request", "RequestError", "RequestFailed", "RuntimeDirError",
    "Server", "ServiceClient", "ServiceDisconnected", "ServiceNotRunning", "ServicePaths",
    "ServiceRunning", "UnknownEventKind", "call", "check_peer", "connect", "decode_event",
    "encode_event", "peer_credentials", "service_paths",
]
