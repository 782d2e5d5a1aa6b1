"""The client against a service newer than itself, played by hand on a real socket."""

from __future__ import annotations

import anyio

from bulk_transcribe.core.service import protocol as p
from bulk_transcribe.core.service.client import connect

from .helpers import notice


def test_a_client_skips_what_a_newer_service_adds(paths):
    async def newer_service(listener, task_status=anyio.TASK_STATUS_IGNORED):
        task_status.started()
        async with await listener.accept() as stream:
            reader = p.LineReader(stream)
            hello = await reader.read_message()
            assert hello["type"] == "hello" and hello["client"] == "headless"
            for message in [
                {**p.welcome(1), "features": ["resume-on-boot"]},
                {"type": "telemetry", "cpu": 3},                                   # a new message type
                {"type": "event", "batch": "b", "event": {"kind": "Teleported", "to": "mars"}},
                {"type": "event", "batch": "b", "event": {**p.encode_event(notice("hi")), "colour": "red"}},
            ]:
                await stream.send(p.encode_line(message))
            request = await reader.read_message()
            await stream.send(p.encode_line({**p.reply_ok(request["id"], [1]), "took_ms": 3}))
            assert await reader.read_message() is None   # the client detached

    async def main():
        async with await anyio.create_unix_listener(paths.socket) as listener:
            async with anyio.create_task_group() as tg:
                await tg.start(newer_service, listener)
                async with connect(paths.socket, client="headless") as service:
                    assert service.welcome["features"] == ["resume-on-boot"]
                    async for batch, event in service.events():
                        assert (batch, event) == ("b", notice("hi"))
                        break
                    assert service.skipped_kinds == {"Teleported"}
                    assert await service.request("ls") == [1]
        paths.socket.unlink()

    anyio.run(main)
