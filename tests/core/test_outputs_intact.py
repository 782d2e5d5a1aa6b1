"""outputs_intact: a done video's transcripts must exist and hold something, or resume fetches again."""

from __future__ import annotations

import os

from bulk_transcribe.core.model import Video, VideoState
from bulk_transcribe.core.output.intact import outputs_intact
from bulk_transcribe.core.output.transcripts import write_outputs
from bulk_transcribe.core.transcript import Transcript


def _done(tmp_path, formats=("txt", "md")):
    v = Video(key="youtube:a", url="https://youtu.be/a", vid="a", title="T", state=VideoState.DONE)
    v.outputs = write_outputs(tmp_path / "out", v, Transcript(text=""), formats, "{title} [{id}]")
    return v


def test_whole_outputs_are_intact_even_for_a_silent_video(tmp_path):
    v = _done(tmp_path)
    assert outputs_intact(v, tmp_path / "out"), "every format writes at least a newline"


def test_a_zero_length_or_missing_output_is_not_intact(tmp_path):
    v = _done(tmp_path)
    open(v.outputs[1], "w").close()   # a crash's zero-length file
    assert not outputs_intact(v, tmp_path / "out")
    v = _done(tmp_path / "b")
    os.unlink(v.outputs[0])
    assert not outputs_intact(v, tmp_path / "b" / "out")


def test_relative_outputs_resolve_against_the_output_folder_and_odd_entries_are_missing(tmp_path):
    v = _done(tmp_path)
    v.outputs = [os.path.basename(p) for p in v.outputs]
    assert outputs_intact(v, tmp_path / "out")
    assert not outputs_intact(v, tmp_path / "elsewhere")
    for odd in ([], [str(tmp_path / "out")], ["bad\x00name"]):
        v.outputs = odd
        assert not outputs_intact(v, tmp_path / "out")
