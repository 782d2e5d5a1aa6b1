"""The wire's framing and handshake rules, without a socket."""

from __future__ import annotations

import pytest

from bulk_transcribe.core.events import Notice
from bulk_transcribe.core.service import protocol as p

BIDI = "".join(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
CONTROLS = "".join(chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)))
OTHER_INVISIBLE = "\u200e\u200f\u2028\u2029\ufeff\u061c"


def test_untrusted_text_goes_out_as_printable_ascii_only():
    nasty = f"title{CONTROLS}{BIDI}{OTHER_INVISIBLE}\x1b[31mred\x1b]0;pwned\x07 é 日本"
    line = p.encode_line(p.event_message("batch\u202e", Notice(1.0, "info", nasty)))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    body = line[:-1]
    assert all(0x20 <= byte <= 0x7E for byte in body), "a raw control or non-ASCII byte went out"
    for char in BIDI + "\x1b\x07\x7f\u2028":
        assert f"\\u{ord(char):04x}".encode() in body
    assert p.decode_event(p.decode_line(body)["event"]).message == nasty


def test_a_message_over_the_line_limit_is_not_sent():
    small = {"type": "x", "pad": "a" * 100}
    assert p.encode_line(small, limit=200)
    with pytest.raises(p.LineTooLong):
        p.encode_line(small, limit=50)
    with pytest.raises(p.LineTooLong):
        p.encode_line({"type": "x", "pad": "a" * p.MAX_LINE})


@pytest.mark.parametrize("line", [b"\xff\xfe", b"not json", b"[1, 2]", b'{"no": "type"}',
                                  b'{"type": 3}', b'{"type": "x", "n": NaN}'])
def test_lines_that_are_not_messages_are_refused(line):
    with pytest.raises(p.ProtocolError) as caught:
        p.decode_line(line)
    assert caught.value.code == p.BAD_MESSAGE


def test_a_hello_of_our_version_passes_and_names_its_client():
    assert p.check_hello(p.hello("tui", 42)) == ("tui", 42)
    assert p.check_hello({"type": "hello", "protocol": 1, "client": "future-face"}) == ("future-face", None)


@pytest.mark.parametrize("message", [
    None,
    {"type": "request", "id": 1, "method": "ls"},
    {"type": "hello", "client": "tui"},
    {"type": "hello", "protocol": "1", "client": "tui"},
    {"type": "hello", "protocol": True, "client": "tui"},
    {"type": "hello", "protocol": 2, "client": "tui"},
    {"type": "hello", "protocol": 1},
])
def test_anything_else_first_is_a_protocol_error(message):
    with pytest.raises(p.ProtocolError) as caught:
        p.check_hello(message)
    assert caught.value.code == p.PROTOCOL


def test_a_version_mismatch_says_what_to_do():
    with pytest.raises(p.ProtocolError) as caught:
        p.check_hello({"type": "hello", "protocol": 2, "client": "tui", "pid": 1})
    assert "protocol 1" in caught.value.message and "same version" in caught.value.message
