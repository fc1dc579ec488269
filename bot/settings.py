"""Typed settings: config.yaml, overridden by XIAOGE_* environment variables.

`load_settings(path)` is the one entry point. Every problem with the configuration
becomes a `ConfigError` whose message names the offending key, so a broken file
fails at start with a sentence an operator can act on.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from bot.settings_reports import ReportCategory, ReportSettings  # noqa: F401  (`reports`)
from bot.wechat.menu_settings import MenuButton, MenuSettings  # noqa: F401  (the `menu` key)
from bot.wechat.templates import SubscribeMapping, TemplateMapping, check_mappings

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"
PRODUCTION_API = "https://api.weixin.qq.com"

# The demo credentials shipped in config.yaml. `mode: prod` refuses to start with any of them.
DEMO_CREDENTIALS = {
    "token": "xiaogeDemoToken",
    "app_id": "wxd0000000000demo",
    "app_secret": "xiaoge-demo-app-secret",
    "encoding_aes_key": "XiaogeDemoEncodingAesKey0123456789abcdefghi",
}
DEMO_API_TOKEN = "xiaoge-demo-api-token"
DEMO_CONSOLE_SECRET = "xiaoge-demo-console-secret-change-me"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """'90s', '30m', '24h', '3d' (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds is None or seconds <= 0:
        raise ValueError(f"expected a positive duration such as 30m, 24h or 3d, got {value!r}")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an address or a network such as 10.0.0.0/8"
                         ) from None
    return value


Network = Annotated[str, AfterValidator(_network)]  # an address or a CIDR network


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # Several instances share one scheduler: a standby takes over this long after the
    # leader dies.
    scheduler_takeover_s: float = Field(15.0, gt=0, le=60)
    # serve's log lines: one JSON object a line (for a log collector), or plain text.
    log_format: Literal["json", "text"] = "json"
    # serve's event loop: uvloop (faster sockets and scheduling; Linux and macOS), or
    # the standard library's asyncio.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # A client gets this long for its request head (from connecting, or from the first byte
    # of its next request on a kept-alive connection), and this long for its body once the
    # head is in; then the connection is closed (408 where an answer can still be sent).
    head_timeout_s: float = Field(10.0, gt=0, le=300)
    body_timeout_s: float = Field(30.0, gt=0, le=3600)
    # The reverse proxies (addresses or CIDR networks) whose X-Forwarded-For / X-Real-IP
    # name the client (bot/web/remote.py); from any other peer those headers are ignored.
    trusted_proxies: list[Network] = Field(default_factory=list)


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///data/xiaoge.db"

    @field_validator("url")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB")
        return v

    # PostgreSQL: the console, /api/v1 and the login use a pool of their own (this many
    # connections, as many again in overflow), so their load never takes a connection the
    # WeChat callbacks need; a statement of theirs running longer than this is cancelled.
    console_pool_size: int = Field(4, ge=1, le=50)
    console_statement_timeout_s: float = Field(15.0, gt=0, le=600)


class WechatSettings(_Section):
    token: str = DEMO_CREDENTIALS["token"]
    app_id: str = DEMO_CREDENTIALS["app_id"]
    app_secret: str = Field(DEMO_CREDENTIALS["app_secret"], repr=False)
    encoding_aes_key: str = Field(DEMO_CREDENTIALS["encoding_aes_key"], repr=False)
    previous_encoding_aes_key: str | None = Field(None, repr=False)
    api_base_url: str | None = None
    max_clock_skew_s: int = Field(300, ge=1)
    # Refuse callbacks without a valid Encrypt (plaintext; compatible mode uses only its
    # Encrypt part). None (the default): true in mode: prod, false in dev (the simulator and
    # `run.py chat` speak plaintext); see Settings.require_safe_mode.
    require_safe_mode: bool | None = None
    reply_budget_s: float = Field(4.0, gt=0, le=4.8)
    location_datum: Literal["gcj02", "wgs84"] = "gcj02"
    # Where the shared access token comes from: POST /cgi-bin/stable_token (normal mode, a
    # force refresh only when WeChat refuses the token it still hands out) or GET
    # /cgi-bin/token (every fetch a new token). See bot/wechat/token.py.
    token_endpoint: Literal["stable", "classic"] = "stable"
    # "I want a person" (人工, 客服…): hand the chat to the 客服 workbench with WeChat's
    # transfer_customer_service reply instead of telling the support hotline.
    kf_transfer: bool = False
    # Per kind of push (models/push_values.py): the template / subscribe message and which
    # value fills each keyword field (bot/wechat/templates.py checks them all at start).
    templates: dict[str, TemplateMapping] = Field(default_factory=dict)
    subscribe: dict[str, SubscribeMapping] = Field(default_factory=dict)

    @field_validator("templates", "subscribe")
    @classmethod
    def _mappings(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        key = f"wechat.{info.field_name}"
        if problems := check_mappings(key, v, template=info.field_name == "templates"):
            raise ValueError("\n  ".join(problems))  # each line names its full key
        return v

    @field_validator("token")
    @classmethod
    def _token_shape(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]{3,32}", v):
            raise ValueError("3 to 32 letters or digits, as set on the WeChat platform")
        return v

    @field_validator("encoding_aes_key", "previous_encoding_aes_key")
    @classmethod
    def _aes_shape(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9]{43}", v):
            raise ValueError("an EncodingAESKey is 43 letters or digits")
        return v


class PushSettings(_Section):
    # The account's sends per second, shared by every instance (models/push_rate.py);
    # 0: no limit (benchmarks).
    rate_per_s: float = Field(100.0, ge=0)
    concurrency: int = Field(16, ge=1, le=256)
    batch_size: int = Field(500, ge=1, le=1000)
    max_attempts: int = Field(8, ge=1, le=50)
    # A row a worker took but never finished (the process died) is closed after this long.
    lease_s: float = Field(120.0, gt=0)
    # After a quota answer the worker sends nothing for this long (±20 % jitter): 45011 is
    # WeChat's per-minute quota, 45009 its daily quota.
    minute_quota_pause_s: float = Field(60.0, gt=0, le=86400)
    daily_quota_pause_s: float = Field(600.0, gt=0, le=86400)

    @model_validator(mode="after")
    def _lease_outlasts_a_batch(self) -> PushSettings:
        if self.rate_per_s > 0 and self.lease_s < self.batch_size / self.rate_per_s + 15:
            raise ValueError(
                "lease_s: must outlast a batch at the rate limit "
                f"(at least {self.batch_size / self.rate_per_s + 15:.0f} s)"
            )
        return self


class ApiSettings(_Section):
    token: str = Field(DEMO_API_TOKEN, min_length=16, repr=False)


class TargetSettings(_Section):  # the dashboard colours a rate green only at or above its target
    resolution_rate: float = Field(1.0, gt=0, le=1)  # 办结率 (PRODUCT.md: 100%)
    satisfaction_rate: float = Field(0.98, gt=0, le=1)  # 满意率 (PRODUCT.md: ≥ 98%)


class ConsoleSettings(_Section):
    # Signs and encrypts the console's session cookie (any long random string).
    secret_key: str = Field(DEMO_CONSOLE_SECRET, min_length=16, repr=False)
    session_idle: Duration = timedelta(hours=8)  # a session unused this long must log in again
    # Login throttle (models/login_throttle.py), counted within login_window: after
    # login_max_failures wrong passwords for one account from one address (or
    # login_address_max_failures from one address for any accounts) each further try waits
    # login_delay, doubling per failure up to login_lockout; login_account_lock failures of
    # one account from all addresses lock it until an admin lifts it or the window ends.
    login_max_failures: int = Field(5, ge=1, le=100)
    login_address_max_failures: int = Field(20, ge=1, le=1000)
    login_account_lock: int = Field(50, ge=1, le=10000)
    login_delay: Duration = timedelta(minutes=1)
    login_lockout: Duration = timedelta(minutes=15)
    login_window: Duration = timedelta(hours=24)
    # Password checks (argon2) at once per process; a few more may wait, beyond those a
    # login is answered 429 at once.
    login_concurrency: int = Field(4, ge=1, le=64)
    login_queue: int = Field(8, ge=0, le=1000)
    # Send the cookie over HTTPS only. None (the default): true in mode: prod, false in dev
    # (so `make run` on http://127.0.0.1 still logs in); see Settings.cookie_secure.
    cookie_secure: bool | None = None
    targets: TargetSettings = Field(default_factory=TargetSettings)


class DialogSettings(_Section):
    idle_timeout: Duration = timedelta(minutes=30)


class CheckinSettings(_Section):
    default_radius_m: int = Field(200, ge=10, le=5000)


class SchoolSettings(_Section):
    reminder_offsets: list[Duration] = Field(
        default_factory=lambda: [timedelta(hours=24), timedelta(hours=1)]
    )


class DevSettings(_Section):
    """Dev mode only. `demo_data`: full — every kind of demo row (members, courses, a
    group with activities, reports in every state, 30 days of check-ins, notices); basic —
    the demo accounts, stations and grids alone (the tests of real processes start there)."""

    demo_data: Literal["full", "basic"] = "full"


class SupportSettings(_Section):
    """What the bot tells someone who asks for a person (when wechat.kf_transfer is off)."""

    hotline: str = Field("", max_length=40)  # "": ask them to leave a message instead
    hours: str = Field("", max_length=40)  # e.g. 工作日 9:00-17:30


class MetricsSettings(_Section):
    # Who may read /metrics: these addresses or networks (CIDR), or any caller with the
    # bearer token (when one is set); anyone else gets 403, a wrong token 401.
    allow: list[Network] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    token: str | None = Field(None, min_length=16, repr=False)


class _YamlSource(PydanticBaseSettingsSource):
    """The config file, below the environment in precedence."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]):
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="XIAOGE_", env_nested_delimiter="__", extra="forbid", frozen=False
    )

    mode: Literal["dev", "prod"] = "dev"
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    wechat: WechatSettings = Field(default_factory=WechatSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    dialog: DialogSettings = Field(default_factory=DialogSettings)
    checkin: CheckinSettings = Field(default_factory=CheckinSettings)
    school: SchoolSettings = Field(default_factory=SchoolSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    menu: MenuSettings = Field(default_factory=MenuSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    support: SupportSettings = Field(default_factory=SupportSettings)
    dev: DevSettings = Field(default_factory=DevSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls, _FILE_DATA.get("data", {})))

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.mode == "prod":
            problems = [*self._demo_wechat_values(),
                        *_weak_secret("api.token", self.api.token),
                        *_weak_secret("console.secret_key", self.console.secret_key)]
            if problems:  # one line per key; load_settings shows them all
                raise ValueError("\n  ".join(problems))
        return self

    def _demo_wechat_values(self) -> list[str]:
        problems = []
        if _same(self.wechat.previous_encoding_aes_key, DEMO_CREDENTIALS["encoding_aes_key"]):
            problems.append("wechat.previous_encoding_aes_key: mode: prod refuses demo keys")
        for key, demo in DEMO_CREDENTIALS.items():
            if _same(getattr(self.wechat, key), demo):
                problems.append(f"wechat.{key}: mode: prod refuses the demo credentials; "
                                f"set the service account's own value")
        for key, maps in (("templates", self.wechat.templates),
                          ("subscribe", self.wechat.subscribe)):
            if demo_ids := [k for k, v in maps.items() if v.id.strip().startswith("demo-")]:
                problems.append(f"wechat.{key}: mode: prod refuses demo template ids "
                                f"({', '.join(sorted(demo_ids))})")
        return problems

    @property
    def cookie_secure(self) -> bool:
        """Whether the console's session cookie is Secure: console.cookie_secure, else by mode."""
        if self.console.cookie_secure is not None:
            return self.console.cookie_secure
        return self.mode == "prod"

    @property
    def require_safe_mode(self) -> bool:
        """Whether /wechat refuses callbacks without a valid Encrypt: wechat.require_safe_mode,
        else by mode."""
        if self.wechat.require_safe_mode is not None:
            return self.wechat.require_safe_mode
        return self.mode == "prod"

    @property
    def api_base_url(self) -> str:
        """Where the WeChat API lives: the config value, else the sandbox (dev) or WeChat (prod)."""
        if self.wechat.api_base_url:
            return self.wechat.api_base_url.rstrip("/")
        if self.mode == "dev":
            return f"http://{self.server.host}:{self.server.port}/sandbox"
        return PRODUCTION_API

    @property
    def is_dev(self) -> bool:
        return self.mode == "dev"


# What mode: prod asks of api.token and console.secret_key.
SECRET_MIN_LENGTH = 32
SECRET_MIN_DISTINCT = 8  # fewer distinct characters than this is "repetitive"
_SHORT_UNIT = re.compile(r"(.{1,8}?)\1+", re.DOTALL)  # one unit of up to 8 characters, repeated


def _same(value: str | None, demo: str) -> bool:
    """The demo value, give or take surrounding whitespace and letter case."""
    return value is not None and value.strip().casefold() == demo.casefold()


def _weak_secret(key: str, value: str) -> list[str]:
    """Why `value` may not serve as `key` in prod ([] when it may). Every value shipped in
    config.yaml is public, whichever key it is put under."""
    demos = [DEMO_API_TOKEN, DEMO_CONSOLE_SECRET, *DEMO_CREDENTIALS.values()]
    if any(_same(value, demo) for demo in demos):
        return [f"{key}: mode: prod refuses the demo value; set a long random string of your own"]
    core = value.strip()
    if len(core) < SECRET_MIN_LENGTH:
        return [f"{key}: mode: prod needs at least {SECRET_MIN_LENGTH} characters "
                f"(got {len(core)}); use a long random string, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"]
    if len(set(core)) < SECRET_MIN_DISTINCT or _SHORT_UNIT.fullmatch(core):
        return [f"{key}: mode: prod refuses a repetitive value (fewer than "
                f"{SECRET_MIN_DISTINCT} distinct characters or a short run repeated); "
                "use a long random string"]
    return []


_FILE_DATA: dict[str, dict[str, Any]] = {}


def _key_of(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1:] = [f"{parts[-1]}[{p}]"] if parts else [f"[{p}]"]
        else:
            parts.append(p)
    return ".".join(parts) or "(top level)"


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the config file (default: config.yaml beside run.py), apply XIAOGE_* variables.

    `overrides` win over both (used by tests). Raises ConfigError naming the key.
    """
    config_path = Path(path) if path else DEFAULT_CONFIG
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"配置文件不存在: {config_path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"配置文件无法读取: {config_path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"配置文件不是有效的 YAML: {config_path}: {exc}") from None
    if data is None:
        data = {}  # an empty file: every key takes its default
    if not isinstance(data, dict):
        raise ConfigError(f"配置文件的顶层必须是键值表: {config_path}")
    _FILE_DATA["data"] = data
    try:
        return Settings(**overrides)
    except SettingsError as exc:  # an XIAOGE_* value that should be JSON and is not
        field = re.search(r'field "([^"]+)"', str(exc))
        prefix = f"XIAOGE_{field.group(1).upper() if field else ''}"
        keys = [v.removeprefix("XIAOGE_").lower().replace("__", ".")
                for v in os.environ if v.startswith(prefix)] or ["?"]
        raise ConfigError(
            f"配置无效: 环境变量的值无法解析 ({', '.join(keys)}): "
            "列表或整段配置须写成 JSON，如 '[\"24h\", \"1h\"]'"
        ) from None
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            key = _key_of(err["loc"])
            if ":" in msg and (key == "(top level)" or msg.startswith(f"{key}.")):
                key, msg = (s.strip() for s in msg.split(":", 1))
            lines.append(f"{key}: {msg}")
        raise ConfigError(f"配置无效 ({config_path}):\n  " + "\n  ".join(lines)) from None
    finally:
        _FILE_DATA.pop("data", None)
