"""Run settings: one frozen record, validated in one place.

Precedence (config file < environment < command line) is applied by `config.py`;
this module only knows what a valid setting is. The API key is deliberately not a
field here: it travels separately so nothing that serialises settings can leak it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

FORMATS = ("txt", "json", "srt", "vtt", "md")
MODELS = ("WhisperLargeV3", "WhisperLargeV3Ct2")
LIMIT_MODES = ("auto", "shared", "per-endpoint")
ORDERS = ("finish", "shortest", "input")
# What each order does, in one sentence (the --help text and the README say the same).
ORDER_HELP = {
    "finish": "longest first, so the batch ends soonest, taking the shortest first wherever the batch "
              "would end no later (the first video always), so results come early",
    "shortest": "shortest first: the most transcripts soonest, the longest left for the end",
    "input": "the batch file's order",
}
AUTO = 0                   # `concurrency` = AUTO: as many in flight as the account's rate and job times allow
MAX_CONCURRENCY = 1000     # the highest --concurrency / --max-concurrency accepted
CAPTIONS = ("off", "first", "only")   # off: always deAPI; first: own captions when they exist; only: never pay

# deAPI's published limits per plan: (submit/min, submit/day, status/min, status/day).
PLANS: dict[str, tuple[int, int | None, int, int | None]] = {
    "premium": (300, None, 300, None),
    "basic": (1, 10, 50, 200),
}
# What --plan takes: a preset, or "auto" (start at Basic's limits, every new account's, and
# learn the account's own from the X-RateLimit-* headers of deAPI's answers).
AUTO_PLAN = "auto"
PLAN_CHOICES = (AUTO_PLAN, *PLANS)

DEFAULT_API_BASE = "https://api.deapi.ai"
DEFAULT_TEMPLATE = "{title} [{id}]"


class SettingsError(ValueError):
    """A setting is out of range or unknown; the message says what to do."""


@dataclass(frozen=True)
class Settings:
    output_dir: str = "transcripts"
    concurrency: int = AUTO           # videos in flight; AUTO (0, "auto") follows the account's rate
    max_concurrency: int = 300        # auto's ceiling
    plan: str = AUTO_PLAN             # auto: start at Basic's limits, learn the account's from deAPI
    limit_mode: str = "auto"          # auto: per-endpoint, shared when deAPI shows it (or on premium)
    rpm: int = 0                      # submit (or account, in shared mode) per minute; 0 = plan's
    status_rpm: int = 0               # status (and price) per minute; 0 = plan's
    submit_per_day: int = -1          # -1 = plan's; 0 = no daily limit
    status_per_day: int = -1
    api_base: str = DEFAULT_API_BASE
    model: str = "WhisperLargeV3"
    timestamps: bool = False
    lang: str = ""
    formats: tuple[str, ...] = ("txt",)
    template: str = DEFAULT_TEMPLATE
    max_attempts: int = 3
    retry_failed: bool = False
    wait_limit: float = 3 * 3600.0    # per-video wait before giving up waiting (job kept)
    order: str = "finish"
    metadata: bool = True
    cookies: str = ""
    max_per_source: int = 0           # first N entries of each playlist/channel line (0 = all), as --playlist-end
    limit_margin: float = 0.5         # seconds added to every 60 s window (clock skew, latency jitter)
    adaptive: bool = True
    max_cost: float = 0.0             # USD the batch may spend in all (0 = no limit but the balance)
    # Uploads (a host deAPI does not fetch, or --upload-fallback): download with yt-dlp, send as source_file.
    upload_fallback: bool = False     # a YouTube video whose job failed SOURCE_DOWNLOAD_FAILED twice is uploaded
    upload_max_mb: float = 20.0       # deAPI's audio upload cap, MiB (see upload_cap_bytes)
    download_concurrency: int = 2     # downloads at once (each holds a worker slot too)
    max_download_mb: float = 2000.0   # a download over this is refused (the size limit)
    captions: str = "off"             # see CAPTIONS; off by default (server IPs get blocked, accounts flagged)
    captions_auto: bool = False       # also take the site's automatic captions (lower quality)
    excel: bool = False               # the CSV report with a UTF-8 byte-order mark (Excel); plain UTF-8 otherwise

    @property
    def auto_concurrency(self) -> bool:
        return self.concurrency == AUTO

    @property
    def most_in_flight(self) -> int:
        """The most videos a run may have in flight: the fixed number, or auto's ceiling."""
        return self.max_concurrency if self.auto_concurrency else self.concurrency

    # -- derived limits (the ones a run starts with) ------------------------------------
    @property
    def learns_limits(self) -> bool:
        """`--plan auto`: the limits start at Basic's and follow what deAPI's answers say."""
        return self.plan == AUTO_PLAN

    @property
    def preset(self) -> tuple[int, int | None, int, int | None]:
        """The plan's published limits; under `auto`, Basic's (every new account starts there)."""
        return PLANS.get(self.plan, PLANS["basic"])

    @property
    def upload_cap_bytes(self) -> int:
        """The upload cap in bytes. deAPI's caps are binary (its measured video cap is 51200 KB),
        so 20 means 20 MiB."""
        return int(self.upload_max_mb * 1024 * 1024)

    @property
    def submit_rpm(self) -> int:
        return self.rpm or self.preset[0]

    @property
    def effective_limit_mode(self) -> str:
        """How a run starts. `auto` picks per plan: Basic's limits are documented per endpoint
        (1 submit and 50 status calls a minute), and one shared account bucket would hold status
        checks to the submit rate; only Premium's figure is ambiguous, so there the conservative
        `shared` applies. Under `--plan auto` a run starts per endpoint (Basic's) and turns
        shared when deAPI's answers show one account bucket. An explicit mode is always honoured."""
        if self.limit_mode == "auto":
            return "shared" if self.plan == "premium" else "per-endpoint"
        return self.limit_mode

    @property
    def effective_status_rpm(self) -> int:
        return self.status_rpm or self.preset[2]

    @property
    def submit_daily(self) -> int | None:
        return self.preset[1] if self.submit_per_day == -1 else (self.submit_per_day or None)

    @property
    def status_daily(self) -> int | None:
        return self.preset[3] if self.status_per_day == -1 else (self.status_per_day or None)

    def validate(self) -> "Settings":
        """Return self, or raise SettingsError naming the bad value and the fix."""
        if not 0 <= self.concurrency <= MAX_CONCURRENCY:
            raise SettingsError(f"--concurrency must be auto or 1 to {MAX_CONCURRENCY} (got {self.concurrency})")
        if not 1 <= self.max_concurrency <= MAX_CONCURRENCY:
            raise SettingsError(f"--max-concurrency must be 1 to {MAX_CONCURRENCY} (got {self.max_concurrency})")
        if self.plan not in PLAN_CHOICES:
            raise SettingsError(f"--plan must be one of {', '.join(PLAN_CHOICES)} (got {self.plan!r})")
        if self.limit_mode not in LIMIT_MODES:
            raise SettingsError(f"--limit-mode must be auto, shared or per-endpoint (got {self.limit_mode!r})")
        for name, value in (("--rpm", self.rpm), ("--status-rpm", self.status_rpm)):
            if not 0 <= value <= 100_000:
                raise SettingsError(f"{name} must be a whole number from 1 to 100000, or 0 for the plan's (got {value})")
        for name, value in (("submit per day", self.submit_per_day), ("status per day", self.status_per_day)):
            if value < -1:
                raise SettingsError(f"{name} must be at least 1, 0 for no daily limit or -1 for the plan's (got {value})")
        if self.model not in MODELS:
            raise SettingsError(f"--model must be one of {', '.join(MODELS)} (got {self.model!r})")
        bad = [f for f in self.formats if f not in FORMATS]
        if bad or not self.formats:
            raise SettingsError(f"--format takes a comma list of {','.join(FORMATS)} (got {','.join(self.formats) or 'nothing'})")
        if self.captions not in CAPTIONS:
            raise SettingsError(f"--captions must be off, first or only (got {self.captions!r})")
        if ({"srt", "vtt"} & set(self.formats) and self.captions != "only"   # captions are always timed
                and not (self.timestamps and self.model == "WhisperLargeV3Ct2")):
            raise SettingsError(
                "srt and vtt need segment timestamps: add --timestamps and --model WhisperLargeV3Ct2"
            )
        if not 1 <= self.max_attempts <= 20:
            raise SettingsError(f"--max-attempts must be 1 to 20 (got {self.max_attempts})")
        if self.order not in ORDERS:
            raise SettingsError(f"--order must be one of {', '.join(ORDERS)} (got {self.order!r})")
        if not self.api_base.startswith(("http://", "https://")):
            raise SettingsError(f"--api-base must be an http(s) URL (got {self.api_base!r})")
        if "{id}" not in self.template and "{title}" not in self.template:
            raise SettingsError("the file name template needs {id} or {title}")
        if self.max_cost < 0:
            raise SettingsError(f"--max-cost must be a positive amount in USD, or 0 for none (got {self.max_cost})")
        if not 0.01 <= self.upload_max_mb <= 1000:
            raise SettingsError(f"--upload-max-mb must be 0.01 to 1000 (got {self.upload_max_mb}); deAPI takes "
                                "audio up to 20 MB")
        if not 1 <= self.download_concurrency <= 10:
            raise SettingsError(f"--download-concurrency must be 1 to 10 (got {self.download_concurrency})")
        if self.max_per_source < 0:
            raise SettingsError(f"--max-per-source must be 0 (every video) or a positive number (got {self.max_per_source})")
        if self.max_download_mb <= 0:
            raise SettingsError(f"--max-download-mb must be positive (got {self.max_download_mb})")
        if self.wait_limit <= 0:
            raise SettingsError(f"--wait-limit must be a positive number of minutes (got {self.wait_limit / 60:g}; "
                                "wait_limit in the config file is in seconds)")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML-safe values; `concurrency` auto is the word "auto" there (as a user writes
        it in the config file), so a session or the service never reads it as a number."""
        out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        out["concurrency"] = show_concurrency(self.concurrency)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Settings":
        known = {f for f in cls.__dataclass_fields__}
        clean: dict[str, Any] = {}
        for k, v in data.items():
            if k in known:
                clean[k] = tuple(v) if k == "formats" else v
        if "concurrency" in clean:
            clean["concurrency"] = parse_concurrency(clean["concurrency"])
        return cls(**clean)

    def with_(self, **changes: Any) -> "Settings":
        return replace(self, **changes)


def parse_concurrency(value: Any) -> Any:
    """"auto" (any case) -> AUTO; a whole number (or its text) -> that number; anything else is
    returned as is for `validate` (or the type check) to refuse."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return AUTO
        if text.isdigit():
            return int(text)
    return value


def show_concurrency(value: Any) -> Any:
    """AUTO as "auto" (a session's file, the config file, a settings-change line); a number as is."""
    return "auto" if value == AUTO and not isinstance(value, bool) else value


def redact_key(key: str | None) -> str:
    """Show a key the way the faces may: never in full."""
    if not key:
        return "not set"
    if len(key) <= 8:
        return "****"
    return f"{key[:4]}…{key[-4:]}"
