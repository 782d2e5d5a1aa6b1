"""Events to the faces: in order, to subscribers only, and a slow face never slows the engine."""

from __future__ import annotations

import anyio
import pytest

from bulk_transcribe.core.events import BatchFinished, ConcurrencyChanged, ErrorLogged
from bulk_transcribe.core.service import protocol as p
from bulk_transcribe.core.service.client import ServiceDisconnected, connect

from .helpers import RawClient, notice, progress, running_server, until, video, worker


def test_events_stream_to_subscribers_of_their_batch_only(paths):
    sent = [worker(0, 1), video(1), notice("saved \u202e\x1b[2J"), ConcurrencyChanged(3, "429 from submit"),
            ErrorLogged(2.0, "v1", "video 1", "network", "reset", status=None, will_retry=True), progress(1),
            BatchFinished(1, 1, 0, 0, 0, (("network", 1),), "r.csv", "out", "s.toml", stopped=False)]

    async def main():
        async with running_server(paths) as server:
            async with connect(paths.socket, client="tui") as mine, connect(paths.socket) as other:
                assert await mine.request("subscribe", batch="talks") == {"subscribed": "talks"}
                await other.request("subscribe", batch="lectures")
                server.publish("nobody-listens", notice("lost"))
                for event in sent:
                    server.publish("talks", event)
                server.publish("lectures", notice("for the other one"))
                received = []
                async for batch, event in mine.events():
                    received.append((batch, event))
                    if isinstance(event, BatchFinished):
                        break
                assert received == [("talks", e) for e in sent]
                async for batch, event in other.events():
                    assert (batch, event) == ("lectures", notice("for the other one"))
                    break

    anyio.run(main)


def test_a_slow_client_gets_the_latest_snapshots_and_every_state_change(paths):
    """Published in one synchronous burst (as the engine's sink would), nothing is sent until
    it ends: what waits is conflated to one Progress and one WorkerChanged per worker."""
    async def main():
        async with running_server(paths) as server, RawClient.connect(paths) as raw:
            await raw.call("subscribe", batch="b")
            published_videos = []
            for i in range(2000):
                server.publish("b", progress(i))
                server.publish("b", worker(i % 4, i))
                if i % 40 == 0:
                    server.publish("b", video(i))
                    published_videos.append(video(i))
            server.publish("b", notice("the end"))
            (conn,) = server.connections
            assert len(conn.outbox) == 1 + 4 + len(published_videos) + 1
            assert conn.outbox.superseded == 2000 - 1 + 2000 - 4
            kinds, videos, snapshot = [], [], {}
            while True:
                event = p.decode_event((await raw.receive())["event"])
                kinds.append(type(event).__name__)
                if kinds[-1] == "VideoChanged":
                    videos.append(event)
                else:
                    snapshot[(kinds[-1], getattr(event, "worker", None))] = event
                if kinds[-1] == "Notice":
                    break
            assert videos == published_videos                   # every one, in order
            assert kinds.count("Progress") == 1 and snapshot[("Progress", None)] == progress(1999)
            assert [snapshot[("WorkerChanged", n)] for n in range(4)] == [worker(n, 1996 + n) for n in range(4)]

    anyio.run(main)


def test_a_client_too_far_behind_is_disconnected_with_a_reason_and_others_go_on(paths):
    async def main():
        async with running_server(paths, max_pending_events=50) as server:
            async with RawClient.connect(paths) as slow, connect(paths.socket) as slow_too, \
                    connect(paths.socket) as fine:
                await slow.call("subscribe", batch="b")
                await slow_too.request("subscribe", batch="b")
                await fine.request("subscribe", batch="c")
                for i in range(51):          # one burst: nothing is sent before it ends
                    server.publish("b", video(i))
                server.publish("c", video(0))
                answer = await slow.receive()
                assert answer["type"] == "error" and answer["code"] == p.SLOW_CONSUMER
                assert "reconnect" in answer["message"]
                assert await slow.receive() is None
                with pytest.raises(ServiceDisconnected) as caught:
                    async for _ in slow_too.events():
                        pytest.fail("what waited was dropped, not sent")
                assert caught.value.code == p.SLOW_CONSUMER
                async for batch, event in fine.events():
                    assert (batch, event) == ("c", video(0))
                    break
                await until(lambda: len(server.connections) == 1)
                server.publish("b", video(99))   # nobody subscribed any more: nothing to do

    anyio.run(main)


def test_a_client_that_stops_reading_never_blocks_the_publisher(paths):
    """The client reads nothing while big events fill the socket's buffers; publishing stays
    synchronous, and once too much waits the connection is cut within the grace time."""
    async def main():
        async with running_server(paths, max_pending_events=20, goodbye_grace=0.1) as server:
            async with RawClient.connect(paths) as stalled:
                await stalled.call("subscribe", batch="b")
                big = "x" * 200_000
                for i in range(1000):
                    server.publish("b", video(i, big))   # returns at once, whatever the client does
                    await anyio.sleep(0)                 # let the writer fill the buffers
                    if not server.connections:
                        break
                await until(lambda: not server.connections)

    anyio.run(main)


def test_stop_delivers_what_waits_then_says_shutdown(paths):
    finished = BatchFinished(1, 1, 0, 0, 0, (), "r", "o", "s", stopped=True)

    async def main():
        async with running_server(paths) as server, connect(paths.socket) as service:
            await service.request("subscribe", batch="b")
            server.publish("b", finished)
            server.stop()
            received = []
            with pytest.raises(ServiceDisconnected) as caught:
                async for _batch, event in service.events():
                    received.append(event)
            assert received == [finished] and caught.value.code == p.SHUTDOWN
            with pytest.raises(ServiceDisconnected):
                await service.request("ping")

    anyio.run(main)
