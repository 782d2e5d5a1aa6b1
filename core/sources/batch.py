"""Batch files: `.txt` (one URL per line, `#` comments) and `.csv` (a `url` column, optional `title`).

A bad line is not an error of the file: it becomes a BatchLine with `error` set, so the
rest of the batch still runs and the report can name the line. Only an unreadable file
(missing, a folder, not text: a NUL byte or bytes no text encoding has, with the line they are
on; a CSV without a url column) raises BatchError.
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .urls import NormalizedUrl, UrlError, normalize

URL_HEADERS = ("url", "link", "video_url", "source_url", "video")
TITLE_HEADERS = ("title", "name")


class BatchError(ValueError):
    """The batch file as a whole cannot be read; the message says what to do."""


@dataclass(frozen=True)
class BatchLine:
    line: int
    raw: str
    url: NormalizedUrl | None
    title: str = ""
    error: str = ""
    duplicate_of: int = 0


@dataclass(frozen=True)
class BatchInput:
    name: str
    lines: tuple[BatchLine, ...]

    @property
    def valid(self) -> list[BatchLine]:
        return [ln for ln in self.lines if ln.url is not None and not ln.error and not ln.duplicate_of]

    @property
    def invalid(self) -> list[BatchLine]:
        return [ln for ln in self.lines if ln.error]

    @property
    def duplicates(self) -> list[BatchLine]:
        return [ln for ln in self.lines if ln.duplicate_of]

    @property
    def counts(self) -> dict[str, int]:
        """{"lines", "valid", "invalid", "duplicates"}: lines are the non-blank, non-comment ones."""
        return {"lines": len(self.lines), "valid": len(self.valid), "invalid": len(self.invalid),
                "duplicates": len(self.duplicates)}


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _not_text(name: str, line: int, what: str) -> BatchError:
    return BatchError(f"{name} is not a text file: line {line} holds {what}; "
                      "save it as UTF-8 text, one URL per line (or a .csv with a url column)")


def _decode(data: bytes, name: str) -> str:
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    for enc in ("utf-8-sig", "utf-16") if utf16 else ("utf-8-sig",):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:   # a NUL decodes "fine" but is never part of a URL list: binary data
            raise _not_text(name, text.count("\n", 0, text.index("\x00")) + 1, "a NUL byte (binary data?)")
        return text
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise _not_text(name, _line_of(data, exc.start), f"a byte that is not text (0x{data[exc.start]:02x})") from None


def read_batch_text(path: str | Path) -> str:
    """A batch file's text, checked to be text. Raises BatchError for a missing file, a folder,
    or a file that is not text (a NUL byte, bytes no encoding has), naming the line they are on."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise BatchError(f"no batch file at {p}: give a .txt (one URL per line) or .csv (a url column)") from None
    except IsADirectoryError:
        raise BatchError(f"{p} is a folder, not a batch file: give the .txt or .csv file inside it") from None
    except OSError as exc:
        raise BatchError(f"cannot read {p}: {exc.strerror}") from None
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _not_text(str(p), _line_of(data, data.index(b"\x00")), "a NUL byte (binary data?)")
    return _decode(data, str(p))


def read_batch(path: str | Path) -> BatchInput:
    """Read a batch file. Raises BatchError for a missing or unreadable file (`read_batch_text`)."""
    return BatchInput(Path(path).name, tuple(batch_lines(path)))


def batch_lines(path: str | Path) -> Iterator[BatchLine]:
    """`read_batch`'s lines one at a time, for a reader that keeps only what it makes of them (a
    100,000-line batch is then never held as 100,000 BatchLines beside the videos). Raises
    BatchError as `read_batch` does, at once (before the first line is asked for)."""
    p = Path(path)
    text = read_batch_text(p)
    first = text.lstrip().split("\n", 1)[0].lower()
    fmt = "csv" if p.suffix.lower() in (".csv", ".tsv") or any(
        h in [c.strip().strip('"') for c in first.replace("\t", ",").split(",")] for h in URL_HEADERS) else "txt"
    lines = _lines(_csv_rows(text, p.name) if fmt == "csv" else _txt_rows(text))
    first = next(lines, None)   # a CSV's header is checked here, not when the caller is half done
    return iter(()) if first is None else itertools.chain((first,), lines)


def parse_batch_text(text: str, name: str = "<input>", fmt: str = "txt") -> BatchInput:
    """Parse batch text: "txt" (one URL per line) or "csv". Raises BatchError for a CSV without a url column."""
    return BatchInput(name, tuple(_lines(_csv_rows(text, name) if fmt == "csv" else _txt_rows(text))))


def _lines(rows: Iterable[tuple[int, str, str, str]]) -> Iterator[BatchLine]:
    first_line: dict[str, int] = {}
    for number, raw, url_text, title in rows:
        try:
            url = normalize(url_text)
        except UrlError as exc:
            yield BatchLine(number, raw, None, title, error=str(exc))
            continue
        first = first_line.setdefault(url.key, number)
        yield BatchLine(number, raw, url, title, duplicate_of=first if first != number else 0)


def _split_lines(text: str) -> Iterator[str]:
    """`text.splitlines()` one line at a time (not a list of every line at once)."""
    start = 0
    while start < len(text):
        cut = text.find("\n", start)
        if cut < 0:   # the last line, without its break
            yield from text[start:].splitlines()
            return
        yield from text[start:cut + 1].splitlines()   # "\r" and the rarer breaks inside a piece too
        start = cut + 1


def _txt_rows(text: str):
    for number, raw in enumerate(_split_lines(text), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        # A trailing comment needs a space before '#': URLs may contain '#' fragments.
        for marker in (" #", "\t#"):
            if marker in stripped:
                stripped = stripped.split(marker, 1)[0].strip()
        yield number, raw.rstrip("\r\n"), stripped, ""


def _delimiter(text: str) -> str:
    """The separator that makes the header name a url column (Excel writes ';' in some locales);
    chosen from the header alone: a ';' inside a URL further down must not decide it."""
    header = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    if header.lower().startswith("sep=") and len(header.strip()) == 5:
        return header.strip()[4]
    for sep in (",", ";", "\t"):
        if any(c.strip().strip('"').lower() in URL_HEADERS for c in header.split(sep)):
            return sep
    return ","


def _csv_rows(text: str, name: str):
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    header: list[str] | None = None
    url_col = title_col = -1
    last = 0
    for row in reader:
        number, last = last + 1, reader.line_num   # a quoted field may span lines: report the first
        if not any(c.strip() for c in row) or row[0].strip().startswith("#"):
            continue
        if header is None and row[0].strip().lower().startswith("sep="):
            continue   # Excel's "sep=;" line
        if header is None:
            header = [c.strip().lower() for c in row]
            url_col = next((header.index(h) for h in URL_HEADERS if h in header), -1)
            title_col = next((header.index(h) for h in TITLE_HEADERS if h in header), -1)
            if url_col < 0:
                raise BatchError(f"{name} has no 'url' column: the first row must name the columns, e.g. url,title")
            continue
        url_text = row[url_col].strip() if url_col < len(row) else ""
        title = row[title_col].strip() if 0 <= title_col < len(row) else ""
        yield number, ",".join(row), url_text, title
