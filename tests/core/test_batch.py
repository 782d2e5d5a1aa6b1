"""Batch files: bad lines are reported with their numbers; the rest still runs."""

from __future__ import annotations

import pytest

from bulk_transcribe.core.batch import BatchError, parse_batch_text, read_batch


def test_txt_comments_blanks_duplicates_and_bad_lines(tmp_path):
    p = tmp_path / "b.txt"
    p.write_text(
        "# my batch\n"
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ\n"
        "\n"
        "https://youtu.be/dQw4w9WgXcQ?si=x   # same video\n"
        "this is not a url\n"
        "https://www.youtube.com/shorts/aqz-KE-bpKQ\n",
        encoding="utf-8",
    )
    b = read_batch(p)
    assert [ln.line for ln in b.valid] == [2, 6]
    assert [(ln.line, ln.duplicate_of) for ln in b.duplicates] == [(4, 2)]
    assert [ln.line for ln in b.invalid] == [5]
    assert "not" in b.invalid[0].error or "URL" in b.invalid[0].error


def test_csv_with_titles_and_quoted_commas(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text('Title,URL\n"Hello, world",https://youtu.be/dQw4w9WgXcQ\nOther,https://x.com/a/status/1\n,\n',
                 encoding="utf-8")
    b = read_batch(p)
    assert [(ln.title, ln.url.key) for ln in b.valid] == [("Hello, world", "youtube:dQw4w9WgXcQ"), ("Other", "x:1")]


def test_csv_without_url_column_is_a_clear_error(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("name,address\na,b\n", encoding="utf-8")
    with pytest.raises(BatchError, match="url"):
        read_batch(p)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(BatchError, match="no batch file"):
        read_batch(tmp_path / "missing.txt")
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(BatchError, match="not a text file"):
        read_batch(tmp_path / "bin.txt")


def test_bom_and_windows_line_endings(tmp_path):
    p = tmp_path / "b.txt"
    p.write_bytes("\ufeffhttps://youtu.be/dQw4w9WgXcQ\r\nhttps://youtu.be/aqz-KE-bpKQ\r\n".encode("utf-8"))
    assert len(read_batch(p).valid) == 2


def test_fragment_hash_is_not_a_comment():
    b = parse_batch_text("https://example.com/page#section\n")
    assert b.valid[0].url.url.startswith("https://example.com/page")
