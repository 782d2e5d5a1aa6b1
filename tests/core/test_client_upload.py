"""The client's `source_file` submit: the multipart body deAPI documents (a unit test of one
client, so a MockTransport is fine), and the money rules it shares with URL submits."""

from __future__ import annotations

import httpx
import pytest

from bulk_transcribe.core.deapi.client import DeapiClient
from bulk_transcribe.core.errors import Category, DeapiError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def _submit(handler) -> str:
    async with DeapiClient("https://api.test", "k" * 20, transport=httpx.MockTransport(handler)) as api:
        return await api.submit_file(b"ID3fake", filename="chunk-000.mp3", content_type="audio/mpeg",
                                     model="WhisperLargeV3Ct2", include_ts=True, ts_level="segment")


async def test_the_body_is_multipart_with_source_file_and_1_0_booleans():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["body"] = request.read()
        seen["type"] = request.headers["content-type"]
        seen["path"] = request.url.path
        return httpx.Response(200, json={"data": {"request_id": "r-1"}})

    assert await _submit(handler) == "r-1"
    body = seen["body"]
    assert seen["type"].startswith("multipart/form-data") and seen["path"] == "/api/v2/audio/transcriptions"
    assert b'name="source_file"; filename="chunk-000.mp3"' in body and b"Content-Type: audio/mpeg" in body
    assert b"ID3fake" in body and b"source_url" not in body
    assert b'name="include_ts"\r\n\r\n1' in body and b'name="model"\r\n\r\nWhisperLargeV3Ct2' in body


@pytest.mark.parametrize("status", [413, 422])
async def test_over_the_cap_is_a_validation_error_that_created_nothing(status):
    def handler(request):
        return httpx.Response(status, json={"message": "The source file field must not be greater than 20480 kilobytes."})

    with pytest.raises(DeapiError) as info:
        await _submit(handler)
    assert info.value.category is Category.VALIDATION and not info.value.maybe_created


async def test_a_lost_answer_after_the_upload_may_have_created_a_job():
    def handler(request):
        request.read()
        raise httpx.ReadError("connection reset")

    with pytest.raises(DeapiError) as info:
        await _submit(handler)
    assert info.value.maybe_created
