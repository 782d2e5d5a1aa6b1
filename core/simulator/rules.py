"""What deAPI's Laravel app refuses, and how it words it: request validation for the simulator.

Pure functions over the form fields as `forms.parse_fields` gives them (every value a string).
"""

from __future__ import annotations

from typing import Any

from .config import TRANSCRIPTION_MODELS

CT2 = "WhisperLargeV3Ct2"
# Fields under Laravel's `boolean` rule. It accepts true, false, 1, 0, "1" and "0", and NOT the
# strings "true"/"false": a multipart form carries only strings, so there a boolean is "1" or "0"
# (what the official SDK sends). `forms.parse_fields` turns JSON booleans into "1"/"0".
BOOLEAN_FIELDS = ("include_ts", "return_result_in_response", "diarize", "include_metadata")


def validate_submit(fields: dict[str, str], url: str, model: str, ts_level: str, *,
                    strict_booleans: bool = True) -> dict[str, list[str]]:
    """Field -> messages for a submit's fields (empty when the submit is valid)."""
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
    errors.update(validate_booleans(fields, strict=strict_booleans))
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


def validate_booleans(fields: dict[str, str], *, strict: bool = True) -> dict[str, list[str]]:
    """Errors for the boolean fields: `include_ts` is required, the others may be absent or empty
    (Laravel turns an empty string into null). `strict` refuses "true"/"false" like Laravel."""
    errors: dict[str, list[str]] = {}
    for name in BOOLEAN_FIELDS:
        value = fields.get(name)
        label = name.replace("_", " ")
        if value is None or not value.strip():
            if name == "include_ts":
                errors[name] = [f"The {label} field is required."]
        elif as_bool(value, strict=strict) is None:
            errors[name] = [f"The {label} field must be true or false."]
    return errors


def as_bool(value: str, *, strict: bool = False) -> bool | None:
    """True/False for an accepted spelling, None otherwise. Not strict also takes "true"/"false"
    (the simulator's old leniency, kept behind `SimConfig.strict_booleans=False`)."""
    lowered = value.strip().lower()
    if lowered == "1" or (lowered == "true" and not strict):
        return True
    if lowered == "0" or (lowered == "false" and not strict):
        return False
    return None
