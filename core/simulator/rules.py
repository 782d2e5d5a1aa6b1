"""What deAPI's Laravel app refuses, and how it words it: request validation for the simulator.

Pure functions over the form fields as `forms.parse_fields` gives them (every value a string).
"""

from __future__ import annotations

import math
from typing import Any

from .config import PRICE_PLATFORMS, TRANSCRIPTION_MODELS

CT2 = "WhisperLargeV3Ct2"
TIKTOK_NEEDS_CT2 = "TikTok sources are only supported by WhisperLargeV3Ct2."
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
    if model_error(model):
        errors["model"] = [model_error(model)]
    elif "tiktok.com" in url and model != CT2:
        errors["model"] = [TIKTOK_NEEDS_CT2]
    errors.update(validate_booleans(fields, strict=strict_booleans))
    for name, messages in _model_options(fields, model, ts_level).items():
        errors.setdefault(name, messages)   # a field's type error stands before its model check
    return errors


# The types deAPI lists for source_file (openapi-v2.json; the limits page leaves out wav and flac).
AUDIO_TYPES = {"aac": "audio/aac", "mp3": "audio/mpeg", "ogg": "audio/ogg", "oga": "audio/ogg", "opus": "audio/ogg",
               "wav": "audio/wav", "webm": "audio/webm", "weba": "audio/webm", "flac": "audio/flac"}
VIDEO_TYPES = {"mp4": "video/mp4", "mpeg": "video/mpeg", "mpg": "video/mpeg", "mov": "video/quicktime",
               "avi": "video/x-msvideo", "wmv": "video/x-ms-wmv", "ogv": "video/ogg"}


def upload_kind(filename: str, content_type: str) -> str:
    """"audio", "video" or "" (a type deAPI does not take) for an uploaded file, by its part's
    content type, else its extension."""
    major = content_type.split("/", 1)[0].lower()
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if major == "audio" and (ext in AUDIO_TYPES or content_type.lower() in AUDIO_TYPES.values()):
        return "audio"
    if major == "video" and (ext in VIDEO_TYPES or content_type.lower() in VIDEO_TYPES.values()):
        return "video"
    if ext in AUDIO_TYPES:
        return "audio"
    return "video" if ext in VIDEO_TYPES else ""


def validate_upload(filename: str, content_type: str, size: int, *, audio_max: int, video_max: int,
                    over_cap_status: int) -> tuple[int, dict[str, list[str]]] | None:
    """None for an acceptable `source_file`, else (status, field errors): 422 for a type deAPI
    does not list, `over_cap_status` (413 or 422) for a file over its type's cap."""
    kind = upload_kind(filename, content_type)
    if not kind:
        return 422, {"source_file": ["The source file must be a file of type: aac, mp3, ogg, wav, webm, flac, "
                                     "mp4, mpeg, mov, avi, wmv."]}
    cap = audio_max if kind == "audio" else video_max
    if size > cap:
        return over_cap_status, {"source_file": [f"The source file field must not be greater than "
                                                 f"{cap // 1024} kilobytes."]}
    return None


def validate_price(fields: dict[str, str], *, strict_booleans: bool = True,
                   platforms: tuple[str, ...] = PRICE_PLATFORMS) -> dict[str, list[str]]:
    """Field -> messages for a price quote. Exactly one of source_url, source_file and
    duration_seconds; `platform` only with duration_seconds, one of `platforms`, and
    `tiktok` (like a TikTok URL) only with WhisperLargeV3Ct2; options checked as on submit."""
    errors: dict[str, list[str]] = {}
    model = fields.get("model", "").strip()
    if model_error(model):
        errors["model"] = [model_error(model)]
    given = [name for name in ("source_url", "source_file", "duration_seconds") if fields.get(name, "").strip()]
    if not given:
        errors["source_url"] = ["The source url field is required when none of source file / duration seconds "
                                "are present."]
    for extra in given[1:]:
        errors[extra] = [f"The {_label(extra)} field is prohibited when {_label(given[0])} is present."]
    url = fields.get("source_url", "").strip()
    if url and not url.startswith(("http://", "https://")):
        errors["source_url"] = ["The source url format is invalid."]
    elif "tiktok.com" in url and model in TRANSCRIPTION_MODELS and model != CT2:
        errors["model"] = [TIKTOK_NEEDS_CT2]
    if "duration_seconds" in given:
        try:
            seconds = float(fields["duration_seconds"])
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            errors["duration_seconds"] = ["The duration seconds field must be a number."]
        elif seconds < 0:
            errors["duration_seconds"] = ["The duration seconds field must be at least 0."]
    platform = fields.get("platform", "").strip()
    if platform:
        if "duration_seconds" not in given:
            errors["platform"] = ["The platform field is prohibited unless duration seconds is present."]
        elif platform not in platforms:
            errors["platform"] = ["The selected platform is invalid."]
        elif platform == "tiktok" and model in TRANSCRIPTION_MODELS and model != CT2:
            errors["platform"] = [TIKTOK_NEEDS_CT2]
    errors.update(validate_booleans(fields, strict=strict_booleans))
    for name, messages in _model_options(fields, model, fields.get("ts_level", "").strip()).items():
        errors.setdefault(name, messages)
    return errors


def model_error(model: str) -> str:
    """The message for a missing or non-transcription model, or "" for a valid one."""
    if not model:
        return "The model field is required."
    return "" if model in TRANSCRIPTION_MODELS else "The selected model is invalid."


def _model_options(fields: dict[str, str], model: str, ts_level: str) -> dict[str, list[str]]:
    """ts_level and diarize against the model: WhisperLargeV3 has segment timestamps only and
    no diarization."""
    errors: dict[str, list[str]] = {}
    if ts_level and ts_level not in ("segment", "word"):
        errors["ts_level"] = ["The selected ts level is invalid."]
    elif ts_level == "word" and model != CT2:
        errors["ts_level"] = ["Word-level timestamps are only available with WhisperLargeV3Ct2."]
    if as_bool(fields.get("diarize", "")) is True and model != CT2:
        errors["diarize"] = ["Speaker diarization is only available with WhisperLargeV3Ct2."]
    return errors


def _label(name: str) -> str:
    return name.replace("_", " ")


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
        label = _label(name)
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
