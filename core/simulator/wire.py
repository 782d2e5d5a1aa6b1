"""How an answer leaves the simulated deAPI when the wire misbehaves: held, trickled, garbled or
reset. The route has already run (a submit's job exists and is billed) before any of these.

`WirePlan` is what `SimState.wire` decides for one answer, from the URL's fault and the
SimConfig switches (`submit_answer_delay`, `trickle_*`, `reset_*`); the server carries it out
with `trickle` and `reset`.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, replace
from typing import BinaryIO

TICK = 0.05   # seconds between trickled chunks (a chunk is at least one byte)
# Endpoints whose answers the trickle/reset switches may pick (see SimConfig.trickle_endpoints).
WIRE_ENDPOINTS = frozenset({"submit", "status", "price", "balance", "models", "storage"})


@dataclass(frozen=True)
class WirePlan:
    hold: float = 0.0        # seconds to sit on the finished answer before sending anything
    trickle: float = 0.0     # body bytes per second after the headers; 0 = all at once
    reset: bool = False      # send nothing: reset the TCP connection after reading the request
    garbled: bool = False    # a proxy mangled the body: HTML instead of the JSON

    def merged(self, hold: float = 0.0, trickle: float = 0.0, reset: bool = False) -> "WirePlan":
        """This plan plus the config's switches: holds add up, the URL's own trickle rate wins."""
        return replace(self, hold=self.hold + hold, trickle=self.trickle or trickle, reset=self.reset or reset)


PLAIN = WirePlan()


def trickle(wfile: BinaryIO, data: bytes, rate: float, stop: threading.Event) -> bool:
    """Write `data` to `wfile` at about `rate` bytes/s: each chunk waits for its share of time
    first, so the body takes at least len(data)/rate seconds after the headers. False if `stop`
    was set midway (the server is stopping; the body is cut short). OSError from a client that
    went away propagates."""
    size = max(1, int(rate * TICK))
    for start in range(0, len(data), size):
        piece = data[start:start + size]
        if stop.wait(len(piece) / rate):
            return False
        wfile.write(piece)
        wfile.flush()
    return True


def reset(connection: socket.socket) -> None:
    """Drop `connection` with a TCP RST instead of an answer: SO_LINGER 0, then close. The handler
    still holds the socket's file objects, so the kernel closes (and resets) when it returns."""
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass   # already gone: there is nothing left to reset
    connection.close()
