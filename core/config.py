"""Which setting wins: config file < environment < command line; and where the API key comes from.

This is the one module that knows the precedence (paths.py knows where the file is). The API key is
read from `DEAPI_API_KEY` first, then the config file's `api_key`; it is written to the
config file only when the user asks, with 0600 permissions.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from .events import Notice
from .paths import config_path
from .settings import Settings, SettingsError, show_concurrency
from .store.atomic import atomic_write_text

# Environment variables a user may set (documented in --help and the README).
ENV_KEY = "DEAPI_API_KEY"
ENV_BASE = "DEAPI_BASE_URL"


# Keys of the config file that are not run settings: the key (read by resolve_api_key) and the
# app's own preferences (`face_option`), never stored in a session.
FACE_KEYS = ("api_key", "mouse")
# The config file's keys: the Settings fields, plus FACE_KEYS.
CONFIG_KEYS = (*Settings.__dataclass_fields__, *FACE_KEYS)


def read_config_file() -> dict[str, Any]:
    """The config file's table, or {} when there is none.

    Raises SettingsError with the file's path when it cannot be parsed."""
    path = config_path()
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path} is not valid TOML ({exc}); fix or delete it") from exc
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror}") from exc


def load_settings(cli_overrides: dict[str, Any] | None = None, *, base: Settings | None = None) -> Settings:
    """Settings from `base` (defaults, or a resumed session's), then the config file,
    then the environment, then `cli_overrides` (only keys whose value is not None).

    When `base` is a resumed session's settings, the config file is skipped: a session
    keeps the settings it was started with unless the command line says otherwise.
    Raises SettingsError for unknown values."""
    values: dict[str, Any] = (base or Settings()).to_dict()
    if base is None:
        file_values = read_config_file()
        unknown = sorted(k for k in file_values if k not in values and k not in FACE_KEYS)
        if unknown:
            raise SettingsError(f"unknown setting {', '.join(map(repr, unknown))} in {config_path()}: "
                                f"the keys are {', '.join(CONFIG_KEYS)}")
        values.update({k: v for k, v in file_values.items() if k in values})
    if os.environ.get(ENV_BASE):
        values["api_base"] = os.environ[ENV_BASE]
    for k, v in (cli_overrides or {}).items():
        if v is not None:
            values[k] = v
    try:
        return anchor_paths(Settings.from_dict(values).validate())
    except TypeError as exc:  # a wrongly typed value in the file
        raise SettingsError(f"a setting has the wrong type: {exc}") from exc


def anchor_paths(settings: Settings, cwd: str | Path | None = None) -> Settings:
    """`settings` with its folders and files made absolute (`~` expanded, relative to `cwd`,
    default the working directory), so a session resumed from another folder writes where it
    wrote before instead of a second copy of every transcript there."""
    base = Path(cwd) if cwd is not None else Path.cwd()
    changes: dict[str, Any] = {}
    for name in ("output_dir", "cookies"):
        value = getattr(settings, name)
        if value:
            absolute = str(base / Path(value).expanduser())
            absolute = os.path.normpath(absolute)
            if absolute != value:
                changes[name] = absolute
    return settings.with_(**changes) if changes else settings


# Settings a saved session never passes on to its next run: each costs money, so only the run
# that asks for it gets it (`--retry-failed` re-submits permanent failures).
NOT_KEPT = ("retry_failed",)


def resume_settings(saved: Settings, cli_overrides: dict[str, Any] | None = None, *, check_host: bool = True,
                    host: str | None = None) -> tuple[Settings, list[tuple[str, Any, Any]]]:
    """The settings a resumed session runs with, and what differs from the ones it was saved with.

    A session keeps its own settings (not the config file's, nor the defaults: those may have
    changed since it started, and a run must never lose its md outputs because of that); what
    the user gave for this run (`cli_overrides`: flags, or the fields changed on a screen; None
    values are ignored) and the environment's DEAPI_BASE_URL go on top. `NOT_KEPT` settings
    fall back to their defaults unless given again. Returns (settings, [(name, saved value,
    new value)]) in field order; raises SettingsError for an invalid result.

    A session never decides where the key goes: the API base is the one in force (config file,
    environment, flag), and a session saved against another host is refused (SettingsError)
    unless the user names that host again. `host` is the one in force when the caller already
    resolved it (the app: its settings from config, environment and flags); a flag wins over it.
    `check_host=False` only for the demo, whose sessions point at a loopback simulator that the
    demo starts anew each time."""
    if check_host:
        in_force = (cli_overrides or {}).get("api_base") or host or load_settings().api_base
        if _same_host(saved.api_base, in_force) is False:
            raise SettingsError(f"this session was run against {saved.api_base}, not {in_force}: pass "
                                f"--api-base {saved.api_base} to use it again (the API key is only sent "
                                "where you say)")
    keep = saved.with_(**{name: getattr(Settings(), name) for name in NOT_KEPT})
    settings = load_settings(cli_overrides, base=keep)
    changes = [(name, getattr(saved, name), getattr(settings, name)) for name in Settings.__dataclass_fields__
               if getattr(saved, name) != getattr(settings, name)]
    return settings, changes


def _same_host(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def describe_changes(changes: list[tuple[str, Any, Any]]) -> str:
    """`concurrency 7 → 3 · formats txt,md → txt`: what a resume changed, in one line."""
    def show(name: str, value: Any) -> str:
        if name == "concurrency":
            return str(show_concurrency(value))   # a session of an older version stored auto as 0
        if name == "wait_limit":
            return f"{value / 60:g} min"
        if isinstance(value, (tuple, list)):
            return ",".join(map(str, value)) or "none"
        if isinstance(value, bool):
            return "on" if value else "off"
        return str(value) if value != "" else "none"
    return " · ".join(f"{name} {show(name, before)} → {show(name, after)}" for name, before, after in changes)


def changes_notice(changes: list[tuple[str, Any, Any]], *, at: float = 0.0) -> tuple[Notice, ...]:
    """What a resume's settings changed from the session's, said once by every face (empty
    when nothing changed). `at` is the notice's wall-clock time."""
    if not changes:
        return ()
    return (Notice(at, "info", f"changed from the session's settings (and kept for its next runs): "
                               f"{describe_changes(changes)}"),)


def face_option(name: str, default: bool) -> bool:
    """A yes/no preference of the app from the config file (e.g. `mouse = true`), or `default`.
    Raises SettingsError when it is there but not true or false."""
    value = read_config_file().get(name, default)
    if not isinstance(value, bool):
        raise SettingsError(f"{name} in {config_path()} must be true or false (got {value!r})")
    return value


def resolve_api_key() -> tuple[str | None, str]:
    """(key, where it came from): the environment wins over the config file."""
    key = os.environ.get(ENV_KEY, "").strip()
    if key:
        return key, ENV_KEY
    try:
        key = str(read_config_file().get("api_key", "")).strip()
    except SettingsError:
        key = ""
    if key:
        return key, "config file"
    return None, ""


def save_settings(changes: dict[str, Any], api_key: str | None = None) -> Path:
    """Remember `changes` (setting name -> value: what the user typed or chose) in the config
    file (0600), over what it already holds. Nothing else is written: a value that came from the
    environment (DEAPI_BASE_URL), a flag or a default stays out of the file. The key is written
    only if given here (one already saved is kept). Raises SettingsError for an unknown name or
    an unreadable config file, OSError when it cannot be written."""
    unknown = sorted(set(changes) - set(Settings.__dataclass_fields__))
    if unknown:
        raise SettingsError(f"not settings: {', '.join(unknown)}")
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = read_config_file()
    data.update({k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()})   # TOML-safe
    if "concurrency" in changes:
        data["concurrency"] = show_concurrency(changes["concurrency"])   # auto as the word, not 0
    if api_key:
        data["api_key"] = api_key
    atomic_write_text(path, tomli_w.dumps(data), mode=0o600)   # 0600 from its first byte
    return path
