"""Batch files: bad lines are reported with their numbers; the rest still runs."""

from __future__ import annotations

import pytest

from bulk_transcribe.core.sources.batch import BatchError, parse_batch_text, read_batch


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


def test_counts_and_trailing_tab_comment():
    b = parse_batch_text("https://youtu.be/dQw4w9WgXcQ\t# first\nhttps://youtu.be/dQw4w9WgXcQ\nnope\n")
    assert b.counts == {"lines": 3, "valid": 1, "invalid": 1, "duplicates": 1}


def test_csv_semicolons_excel_sep_line_and_link_header():
    b = parse_batch_text("sep=;\nLink;Title\nhttps://youtu.be/dQw4w9WgXcQ;A title\n", fmt="csv")
    assert [(ln.line, ln.title) for ln in b.valid] == [(3, "A title")]
    # the header alone decides the separator: a ';' inside a later URL does not
    b = parse_batch_text("url,title\nhttps://example.com/a;b,T\n", fmt="csv")
    assert [(ln.url.url, ln.title) for ln in b.valid] == [("https://example.com/a;b", "T")]
    b = parse_batch_text("Link;Title\nhttps://youtu.be/dQw4w9WgXcQ;A title\n", fmt="csv")
    assert [(ln.line, ln.url.key, ln.title) for ln in b.valid] == [(2, "youtube:dQw4w9WgXcQ", "A title")]


def test_csv_line_numbers_point_at_the_row_start():
    text = 'url,title\n"https://youtu.be/dQw4w9WgXcQ","two\nlines"\nbad url,x\n'
    b = parse_batch_text(text, fmt="csv")
    assert [ln.line for ln in b.valid] == [2] and [ln.line for ln in b.invalid] == [4]


def test_unknown_extension_is_sniffed(tmp_path):
    p = tmp_path / "list.dat"
    p.write_text("URL,title\nhttps://youtu.be/dQw4w9WgXcQ,Hi\n", encoding="utf-8")
    assert read_batch(p).valid[0].title == "Hi"
    p.write_text("https://youtu.be/dQw4w9WgXcQ\n", encoding="utf-8")
    assert read_batch(p).valid[0].url.key == "youtube:dQw4w9WgXcQ"


def test_windows_1252_file_and_folder(tmp_path):
    p = tmp_path / "b.csv"
    p.write_bytes("url,title\nhttps://youtu.be/dQw4w9WgXcQ,Caf\xe9 \x96 live\n".encode("latin-1"))
    assert read_batch(p).valid[0].title == "Café – live"
    with pytest.raises(BatchError, match="folder"):
        read_batch(tmp_path)


def test_bad_lines_keep_their_numbers_and_say_why():
    b = parse_batch_text("\n\nftp://example.com/a.mp4\nhttps://www.youtube.com/watch?v=short\n")
    assert [(ln.line, bool(ln.error), ln.url) for ln in b.lines] == [(3, True, None), (4, True, None)]
    assert "http" in b.lines[0].error and "11" in b.lines[1].error


def test_a_nul_byte_a_binary_file_and_a_folder_are_named_with_their_line(tmp_path):
    """README promises line numbers: a NUL byte past the first 4 KB, or a byte no encoding reads,
    is named with the line it is on; a folder is called a folder."""
    late_nul = tmp_path / "late.txt"
    late_nul.write_bytes(b"".join(b"https://youtu.be/aaaaaaaaa%02d\n" % i for i in range(300)) + b"https://youtu.be/\x00x\n")
    with pytest.raises(BatchError, match=r"late\.txt is not a text file: line 301 holds a NUL byte"):
        read_batch(late_nul)
    undecodable = tmp_path / "bin.dat"
    undecodable.write_bytes(b"https://youtu.be/aaaaaaaaa01\n\xff\xfe" + b"\n\x81\x8d\x90 garbage")
    with pytest.raises(BatchError, match=r"line 3 holds a byte that is not text \(0x81\)"):
        read_batch(undecodable)
    with pytest.raises(BatchError, match="is a folder, not a batch file"):
        read_batch(tmp_path)
