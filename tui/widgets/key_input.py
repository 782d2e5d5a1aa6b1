"""The API key field, as the config screen and the resume key prompt both show it.

The key is masked while typed and never shown in full afterwards (`key_status` redacts it).
"""

from __future__ import annotations

from ...core.settings import redact_key
from .field import Field

ENTERED = "entered for this run"


class KeyInput(Field):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("placeholder", "enter a key for this run only")
        super().__init__(password=True, compact=True, **kwargs)


def key_status(typed: str, api_key: str | None, source: str, required: bool = True) -> str:
    """What the key field's status line says: which key will be used and where it came from."""
    if typed:
        return f"set ({redact_key(typed)}), {ENTERED}"
    if api_key:
        return f"set ({redact_key(api_key)}) from {source or 'unknown'}"
    if not required:
        return "not needed (simulated service)"
    return "not set: set DEAPI_API_KEY or enter one below"
