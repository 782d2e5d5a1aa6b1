"""Group commit's promises at its edges: a cancelled writer strands nobody."""

from __future__ import annotations

import anyio

from bulk_transcribe.core.store.groupcommit import GroupCommit


def test_a_writer_cancelled_under_a_shielded_waiter_still_writes_its_record():
    """A quit cancels the writer while a submit, shielded, waits for its request id to be
    written. Found as a headless Ctrl-C that hung about one time in eight."""
    written: list[str] = []

    async def write(records):
        written.extend(records)

    async def main():
        commits = GroupCommit(write, commit_delay=0)
        async with anyio.create_task_group() as tg:
            await tg.start(commits.run)
            group = commits.add("request id")
            tg.cancel_scope.cancel()   # the writer is told to stop but has not run yet
            assert commits.running
            with anyio.CancelScope(shield=True), anyio.fail_after(5):
                await commits.wait(group)

    anyio.run(main)
    assert written == ["request id"]


def test_after_the_writer_stopped_a_caller_commits_inline():
    written: list[str] = []

    async def write(records):
        written.extend(records)

    async def main():
        commits = GroupCommit(write)
        async with anyio.create_task_group() as tg:
            await tg.start(commits.run)
            tg.cancel_scope.cancel()
        assert not commits.running
        with anyio.fail_after(5):
            await commits.wait(commits.add("late"))

    anyio.run(main)
    assert written == ["late"]
