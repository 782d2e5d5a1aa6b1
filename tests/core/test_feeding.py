"""The session's list of sources still to expand (``meta.sources``), as expansion empties it."""

from __future__ import annotations

from bulk_transcribe.core.run.feeding import drop_source


def _meta(*urls: str) -> dict:
    return {"sources": [{"line": i + 1, "url": u, "title": ""} for i, u in enumerate(urls)]}


def test_an_expanded_source_leaves_the_list_and_the_others_keep_their_order():
    meta = _meta("https://a.example/1", "https://a.example/2", "https://a.example/3")
    pending = meta["sources"]
    drop_source(meta, "https://a.example/2")
    assert [d["url"] for d in meta["sources"]] == ["https://a.example/1", "https://a.example/3"]
    assert meta["sources"] is pending, "taken out in place, not a new list per expanded page"
    drop_source(meta, "https://a.example/3")
    drop_source(meta, "https://a.example/1")
    assert meta["sources"] == []


def test_a_url_not_in_the_list_or_no_list_at_all_changes_nothing():
    meta = _meta("https://a.example/1")
    drop_source(meta, "https://a.example/other")
    assert [d["url"] for d in meta["sources"]] == ["https://a.example/1"]
    empty: dict = {}
    drop_source(empty, "https://a.example/1")
    assert empty == {}
    odd = {"sources": ["not a table", {"line": 1}, {"url": "https://a.example/1"}]}
    drop_source(odd, "https://a.example/1")
    assert odd["sources"] == ["not a table", {"line": 1}]
