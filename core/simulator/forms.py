"""Request bodies as the simulated API accepts them: multipart form, urlencoded form or JSON.

Standard library only (`email` parses multipart; `cgi` is gone in Python 3.13).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qsl


class FormError(ValueError):
    """The body could not be read as the content type it claims."""


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart body (a `source_file` upload)."""

    filename: str
    content_type: str
    data: bytes


def parse_fields(content_type: str, body: bytes, files: dict[str, UploadedFile] | None = None) -> dict[str, str]:
    """Field name -> string value. File parts map to "file:<filename>" (and, when `files` is
    given, their content goes there by field name); JSON booleans become "1"/"0", the spelling
    a form uses, so every route sees one (a JSON *string* "true" stays "true", which Laravel's
    boolean rule refuses too). Raises FormError."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if kind == "multipart/form-data":
        return _multipart(content_type, body, files)
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise FormError("form body is not UTF-8") from exc
    if kind in ("application/json", "") or kind.endswith("+json"):
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise FormError("body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise FormError("JSON body must be an object")
        return {str(k): _scalar(v) for k, v in data.items()}
    raise FormError(f"unsupported content type {kind!r}")


def _multipart(content_type: str, body: bytes, files: dict[str, UploadedFile] | None) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise FormError("multipart body without parts")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename:
            fields[str(name)] = f"file:{filename}"
            if files is not None:
                files[str(name)] = UploadedFile(filename, part.get_content_type(), payload)
        else:
            fields[str(name)] = payload.decode("utf-8", errors="replace")
    return fields


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return ""
    return str(value)
