"""What deAPI's Laravel app refuses, and how it words it: request validation for the simulator.

Pure functions over the form fields as `forms.parse_fields` gives them (every value a string).
"""

from __future__ import annotations

from typing import Any

from .config import TRANSCRIPTION_MODELS

CT2 = "WhisperLargeV3Ct2"


def validate_submit(fields: dict[str, str], url: str, model: str, ts_level: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not url:
        errors["source_url"] = ["The source url field is required when source file is not present."]
    elif not url.startswith(("http://", "https://", "upload://")):
        errors["source_url"] = ["The source url format is invalid."]
    if not model:
        errors["model"] = ["The model field is required."]
    elif model not in TRANSCRIPTION_MODELS:
        errors["model"] = ["The selected model is invalid."]
    elif "tiktok.com" in url and model != CT2:
        errors["model"] = ["TikTok sources are only supported by WhisperLargeV3Ct2."]
    include_ts = fields.get("include_ts")
    if include_ts is None or not include_ts.strip():
        errors["include_ts"] = ["The include ts field is required."]
    elif as_bool(include_ts) is None:
        errors["include_ts"] = ["The include ts field must be true or false."]
    if ts_level and ts_level not in ("segment", "word"):
        errors["ts_level"] = ["The selected ts level is invalid."]
    elif ts_level == "word" and model != CT2:
        errors["ts_level"] = ["Word-level timestamps are only available with WhisperLargeV3Ct2."]
    return errors


def laravel_422(errors: dict[str, list[str]]) -> dict[str, Any]:
    messages = [m for msgs in errors.values() for m in msgs]
    more = len(messages) - 1
    suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
    return {"message": messages[0] + suffix, "errors": errors}


def as_bool(value: str) -> bool | None:
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return None
