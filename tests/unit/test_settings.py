"""bot/settings.py: config.yaml, XIAOGE_* overrides, and errors that name the key.

Plain unit tests: no database, no event loop.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import cli
from bot.settings import (
    DEFAULT_CONFIG,
    DEMO_CREDENTIALS,
    PRODUCTION_API,
    ConfigError,
    Settings,
    load_settings,
    parse_duration,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config.yaml"
CATEGORIES = ["道路交通", "市容环境", "公共设施", "安全隐患", "邻里纠纷", "其他"]
REAL_CREDENTIALS = {
    "token": "realToken2026",
    "app_id": "wx1234567890abcdef",
    "app_secret": "0123456789abcdef0123456789abcdef",
    "encoding_aes_key": "RealEncodingAesKey0123456789abcdefghijklmno",
}
OWN_API_TOKEN = "an-api-token-of-our-own-0123456789"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No XIAOGE_* variable from the outside world leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("XIAOGE_"):
            monkeypatch.delenv(name)


def _shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    return data


def _write(tmp_path: Path, data: Any, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _config_with(tmp_path: Path, change: Callable[[dict[str, Any]], Any]) -> Path:
    """The shipped config.yaml with one change, as a temporary file."""
    data = copy.deepcopy(_shipped())
    change(data)
    return _write(tmp_path, data)


def _error_names(exc: ConfigError, key: str) -> None:
    """The message has a line `key: reason`."""
    lines = [line.strip() for line in str(exc).splitlines()]
    assert any(line.startswith(f"{key}: ") for line in lines), str(exc)


# --- defaults --------------------------------------------------------------------------------


def test_defaults_from_config_yaml() -> None:
    s = load_settings(CONFIG)
    assert s.mode == "dev"
    assert s.is_dev
    assert s.server.host == "127.0.0.1"
    assert s.server.port == 8080
    assert s.database.url == "sqlite+aiosqlite:///data/xiaoge.db"
    assert s.school.reminder_offsets == [timedelta(hours=24), timedelta(hours=1)]
    assert all(isinstance(o, timedelta) for o in s.school.reminder_offsets)
    assert [c.name for c in s.reports.categories] == CATEGORIES
    deadlines = {c.name: c.deadline for c in s.reports.categories}
    assert deadlines["安全隐患"] == timedelta(days=1)
    assert deadlines["道路交通"] == timedelta(days=3)
    assert "路灯" in s.reports.categories[0].keywords
    assert s.reports.categories[-1].keywords == []
    assert s.dialog.idle_timeout == timedelta(minutes=30)
    assert s.checkin.default_radius_m == 200
    assert (s.push.minute_quota_pause_s, s.push.daily_quota_pause_s) == (60, 600)
    w = s.wechat
    assert (w.token, w.app_id, w.app_secret, w.encoding_aes_key) == tuple(
        DEMO_CREDENTIALS[k] for k in ("token", "app_id", "app_secret", "encoding_aes_key"))
    assert w.previous_encoding_aes_key is None
    assert w.api_base_url is None
    assert w.max_clock_skew_s == 300
    assert w.reply_budget_s == 4.0
    assert w.location_datum == "gcj02"
    assert [b.name for b in s.menu.button] == ["驿站", "党建", "随手拍"]
    assert s.menu.button[0].sub_button[0].type == "scancode_waitmsg"


def test_default_path_is_the_shipped_config() -> None:
    assert DEFAULT_CONFIG == CONFIG
    assert load_settings() == load_settings(CONFIG)


def test_secrets_stay_out_of_repr() -> None:
    text = repr(load_settings(CONFIG))
    assert DEMO_CREDENTIALS["app_secret"] not in text
    assert DEMO_CREDENTIALS["encoding_aes_key"] not in text


def test_code_defaults_match_the_shipped_file(tmp_path: Path) -> None:
    """An empty file gives the shipped values for the plain sections."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    from_code, shipped = load_settings(empty), load_settings(CONFIG)
    for section in ("mode", "server", "database", "push", "dialog", "checkin", "school"):
        assert getattr(from_code, section) == getattr(shipped, section), section
    assert from_code.wechat.token == shipped.wechat.token
    assert from_code.wechat.max_clock_skew_s == shipped.wechat.max_clock_skew_s
    assert [c.name for c in from_code.reports.categories] == CATEGORIES


# --- another file: --config PATH ----------------------------------------------------------


def test_config_path_partial_file(tmp_path: Path) -> None:
    path = _write(tmp_path, {
        "server": {"port": 9001},
        "wechat": {"max_clock_skew_s": 120},
        "school": {"reminder_offsets": ["2d", "90m", 30]},
        "reports": {"categories": [{"name": "路灯", "deadline": "12h"}]},
    })
    s = load_settings(path)
    assert s.server.port == 9001
    assert s.server.host == "127.0.0.1"  # the rest of a section keeps its default
    assert s.wechat.max_clock_skew_s == 120
    assert s.wechat.token == DEMO_CREDENTIALS["token"]
    assert s.school.reminder_offsets == [timedelta(days=2), timedelta(minutes=90),
                                         timedelta(seconds=30)]
    assert [(c.name, c.deadline, c.keywords) for c in s.reports.categories] == [
        ("路灯", timedelta(hours=12), [])]
    assert s.api_base_url == "http://127.0.0.1:9001/sandbox"


def test_cli_config_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run.py --config PATH COMMAND hands the command the settings from PATH."""
    seen: list[Settings] = []
    monkeypatch.setattr("bot.logs.setup", lambda *a, **k: None)
    monkeypatch.setattr(cli, "migrate", lambda s: seen.append(s) or 0)
    path = _write(tmp_path, {"server": {"port": 9002}, "database": {
        "url": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}})
    assert cli.main(["--config", str(path), "migrate"]) == 0
    assert [s.server.port for s in seen] == [9002]
    assert seen[0].database.url.endswith("x.db")


def test_cli_config_error_is_one_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("bot.logs.setup", lambda *a, **k: None)
    monkeypatch.setattr(cli, "migrate", lambda s: pytest.fail("must not run"))
    path = _write(tmp_path, {"server": {"port": 70000}})
    assert cli.main(["--config", str(path), "migrate"]) == 2
    err = capsys.readouterr().err
    assert "server.port" in err
    assert str(path) in err
    assert "Traceback" not in err


# --- the environment ------------------------------------------------------------------------


def test_env_overrides_nested_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOGE_WECHAT__MAX_CLOCK_SKEW_S", "60")
    s = load_settings(CONFIG)
    assert s.wechat.max_clock_skew_s == 60
    # Only that key: the rest of the section still comes from the file.
    assert s.wechat.token == DEMO_CREDENTIALS["token"]
    assert s.wechat.reply_budget_s == 4.0


def test_env_overrides_server_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOGE_SERVER__PORT", "9090")
    s = load_settings(CONFIG)
    assert s.server.port == 9090
    assert s.server.host == "127.0.0.1"
    assert s.api_base_url == "http://127.0.0.1:9090/sandbox"


def test_env_overrides_top_level_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOGE_MODE", "prod")
    for key, value in REAL_CREDENTIALS.items():
        monkeypatch.setenv(f"XIAOGE_WECHAT__{key.upper()}", value)
    monkeypatch.setenv("XIAOGE_API__TOKEN", OWN_API_TOKEN)
    monkeypatch.setenv("XIAOGE_CONSOLE__SECRET_KEY", OWN_API_TOKEN + "-console")
    monkeypatch.setenv("XIAOGE_WECHAT__TEMPLATES", json.dumps(OWN_TEMPLATES))
    monkeypatch.setenv("XIAOGE_WECHAT__SUBSCRIBE", json.dumps(OWN_SUBSCRIBE))
    s = load_settings(CONFIG)
    assert s.mode == "prod"
    assert s.wechat.subscribe["notice"].id == "sub-real-notice"
    assert s.wechat.token == REAL_CREDENTIALS["token"]
    assert s.api_base_url == PRODUCTION_API


def test_env_overrides_a_list_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOGE_SCHOOL__REMINDER_OFFSETS", '["2h", "15m"]')
    s = load_settings(CONFIG)
    assert s.school.reminder_offsets == [timedelta(hours=2), timedelta(minutes=15)]


def test_env_overrides_another_config_file(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOGE_SERVER__PORT", "9091")
    s = load_settings(_write(tmp_path, {"server": {"port": 9001, "host": "0.0.0.0"}}))
    assert (s.server.host, s.server.port) == ("0.0.0.0", 9091)


def test_explicit_overrides_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOGE_SERVER__PORT", "9090")
    monkeypatch.setenv("XIAOGE_WECHAT__MAX_CLOCK_SKEW_S", "60")
    s = load_settings(CONFIG, server={"port": 7000})
    assert s.server.port == 7000
    assert s.wechat.max_clock_skew_s == 60


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        ("XIAOGE_WECHAT__MAX_CLOCK_SKEW_S", "abc", "wechat.max_clock_skew_s"),
        ("XIAOGE_WECHAT__MAX_CLOCK_SKEW_S", "0", "wechat.max_clock_skew_s"),
        ("XIAOGE_SERVER__PORT", "70000", "server.port"),
        ("XIAOGE_SERVER__PORT", "http", "server.port"),
        ("XIAOGE_MODE", "staging", "mode"),
        ("XIAOGE_DATABASE__URL", "mysql://root@localhost/xiaoge", "database.url"),
        ("XIAOGE_WECHAT__TOKEN", "has space", "wechat.token"),
    ],
)
def test_bad_env_value_names_the_key(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                     key: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG)
    _error_names(err.value, key)




@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        pytest.param("XIAOGE_SCHOOL__REMINDER_OFFSETS", "24h,1h", "school.reminder_offsets",
                     id="list-not-json"),
        pytest.param("XIAOGE_WECHAT", "{token: x", "wechat",
                     id="section-not-json"),
    ],
)
def test_env_value_that_is_not_json_names_the_key(monkeypatch: pytest.MonkeyPatch, name: str,
                                                  value: str, key: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG)
    assert key in str(err.value)


# --- bad values in the file -----------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the config: set a dotted path (list indexes as numbers)."""

    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[int(last) if last.isdigit() else last] = value

    return change


BAD_VALUES = [
    ("wechat.max_clock_skew_s", 0, "wechat.max_clock_skew_s"),
    ("wechat.max_clock_skew_s", "five minutes", "wechat.max_clock_skew_s"),
    ("server.port", 70000, "server.port"),
    ("server.port", 0, "server.port"),
    ("school.reminder_offsets", ["soon", "1h"], "school.reminder_offsets[0]"),
    ("school.reminder_offsets", ["24h", "1w"], "school.reminder_offsets[1]"),
    ("school.reminder_offsets", ["24h", "-1h"], "school.reminder_offsets[1]"),
    ("school.reminder_offsets", "24h", "school.reminder_offsets"),
    ("wechat.tokne", "abc", "wechat.tokne"),
    ("servr", {"port": 1}, "servr"),
    ("database.url", "mysql+aiomysql://root@localhost/xiaoge", "database.url"),
    ("database.url", "sqlite:///data/xiaoge.db", "database.url"),
    ("database.url", "postgresql://postgres@localhost/xiaoge", "database.url"),
    ("wechat.token", "bad token!", "wechat.token"),
    ("wechat.token", "ab", "wechat.token"),
    ("wechat.encoding_aes_key", "tooShort", "wechat.encoding_aes_key"),
    ("wechat.previous_encoding_aes_key", "x" * 44, "wechat.previous_encoding_aes_key"),
    ("wechat.reply_budget_s", 5, "wechat.reply_budget_s"),
    ("wechat.location_datum", "bd09", "wechat.location_datum"),
    ("mode", "production", "mode"),
    ("dialog.idle_timeout", "30 minutes", "dialog.idle_timeout"),
    ("checkin.default_radius_m", 5, "checkin.default_radius_m"),
    ("push.daily_quota_pause_s", 0, "push.daily_quota_pause_s"),
    ("reports.categories", [], "reports.categories"),
    ("reports.categories.1.deadline", "soon", "reports.categories[1].deadline"),
    ("reports.categories.0.name", "", "reports.categories[0].name"),
    ("menu.button.0.colour", "red", "menu.button[0].colour"),
    ("wechat", "not a section", "wechat"),
]


@pytest.mark.parametrize(("path", "value", "key"), BAD_VALUES,
                         ids=[f"{p}={v!r}"[:60] for p, v, _ in BAD_VALUES])
def test_bad_file_value_names_the_key(tmp_path: Path, path: str, value: Any, key: str) -> None:
    config = _config_with(tmp_path, _set(path, value))
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    _error_names(err.value, key)
    assert str(config) in str(err.value)


def test_every_bad_key_is_named(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        _set("server.port", -1)(data)
        _set("wechat.tokne", "x")(data)
        _set("school.reminder_offsets", ["1h", "later"])(data)

    with pytest.raises(ConfigError) as err:
        load_settings(_config_with(tmp_path, change))
    for key in ("server.port", "wechat.tokne", "school.reminder_offsets[1]"):
        _error_names(err.value, key)


@pytest.mark.parametrize("path", ["dialog.idle_timeout", "school.reminder_offsets",
                                  "reports.categories.0.deadline"])
def test_negative_numeric_duration_is_refused(tmp_path: Path, path: str) -> None:
    value: Any = [-3600] if path == "school.reminder_offsets" else -60
    with pytest.raises(ConfigError):
        load_settings(_config_with(tmp_path, _set(path, value)))


# --- files that cannot be read ----------------------------------------------------------------




@pytest.mark.parametrize(
    "text",
    [
        "- server\n- wechat\n",
        "just a sentence\n",
        "42\n",
        "[1, 2]\n",
        pytest.param("[]\n", id="empty-list"),
        pytest.param("false\n", id="false"),
        pytest.param("0\n", id="zero"),
    ],
)
def test_top_level_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "config.yaml"
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "server:\n  port: 8080\n   host: x\n",
        "wechat: {token: abc\n",
        "server:\n\tport: 8080\n",
        "key: [unclosed\n",
        "a: b: c\n",
    ],
    ids=["bad-indent", "unclosed-brace", "tab", "unclosed-bracket", "double-colon"],
)
def test_broken_yaml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(path) in str(err.value)


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes("reports:\n  categories:\n    - {name: 道路交通}\n".encode("gbk"))
    with pytest.raises(ConfigError):
        load_settings(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_settings(tmp_path)


def test_a_failed_load_leaves_nothing_behind(tmp_path: Path) -> None:
    """After an error, the next load reads its own file, not the broken one."""
    with pytest.raises(ConfigError):
        load_settings(_config_with(tmp_path, _set("server.port", 0)))
    assert load_settings(CONFIG).server.port == 8080


# --- production mode --------------------------------------------------------------------------


_DEMO_WECHAT = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["wechat"]
# config.yaml's mappings with ids of the account's own (mode: prod refuses demo- ids).
OWN_TEMPLATES = {kind: {**m, "id": f"tmpl-real-{kind}"}
                 for kind, m in _DEMO_WECHAT["templates"].items()}
OWN_SUBSCRIBE = {kind: {**m, "id": f"sub-real-{kind}"}
                 for kind, m in _DEMO_WECHAT["subscribe"].items()}


def _prod(**wechat: Any) -> dict[str, Any]:
    """mode: prod with these wechat values; any other demo value (api.token, the demo
    template ids) replaced."""
    overrides: dict[str, Any] = {"mode": "prod",
                                 "wechat": {"templates": OWN_TEMPLATES,
                                            "subscribe": OWN_SUBSCRIBE, **wechat}}
    if "api" in Settings.model_fields:
        overrides["api"] = {"token": OWN_API_TOKEN}
    overrides["console"] = {"secret_key": OWN_API_TOKEN + "-console"}
    return overrides


def test_prod_refuses_the_demo_console_secret() -> None:
    overrides = _prod(**REAL_CREDENTIALS)
    del overrides["console"]
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG, **overrides)
    _error_names(err.value, "console.secret_key")


def test_prod_refuses_demo_template_ids() -> None:
    overrides = _prod(**REAL_CREDENTIALS)
    overrides["wechat"]["templates"] = {**OWN_TEMPLATES, "notice": {
        **OWN_TEMPLATES["notice"], "id": "demo-tmpl-notice"}}
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG, **overrides)
    _error_names(err.value, "wechat.templates")
    assert "notice" in str(err.value)


def test_prod_refuses_demo_subscribe_ids() -> None:
    overrides = _prod(**REAL_CREDENTIALS)
    overrides["wechat"]["subscribe"] = {**OWN_SUBSCRIBE, "report_status": {
        **OWN_SUBSCRIBE["report_status"], "id": "demo-sub-report-status"}}
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG, **overrides)
    _error_names(err.value, "wechat.subscribe")
    assert "report_status" in str(err.value)


def test_prod_with_demo_credentials_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG, mode="prod")
    _error_names(err.value, "wechat.token")
    assert "prod" in str(err.value)


@pytest.mark.parametrize("kept", list(DEMO_CREDENTIALS))
def test_prod_refuses_each_demo_credential(kept: str) -> None:
    creds = {**REAL_CREDENTIALS, kept: DEMO_CREDENTIALS[kept]}
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG, **_prod(**creds))
    _error_names(err.value, f"wechat.{kept}")


def test_prod_with_own_credentials() -> None:
    s = load_settings(CONFIG, **_prod(**REAL_CREDENTIALS))
    assert s.mode == "prod"
    assert not s.is_dev
    assert s.api_base_url == PRODUCTION_API == "https://api.weixin.qq.com"
    assert s.wechat.app_secret == REAL_CREDENTIALS["app_secret"]


def test_prod_from_a_file(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data.update(mode="prod")
        data["wechat"].update(REAL_CREDENTIALS, templates=OWN_TEMPLATES,
                              subscribe=OWN_SUBSCRIBE)
        if "api" in data:
            data["api"]["token"] = OWN_API_TOKEN
        data["console"]["secret_key"] = OWN_API_TOKEN + "-console"

    path = _config_with(tmp_path, change)
    s = load_settings(path)
    assert (s.mode, s.api_base_url) == ("prod", PRODUCTION_API)


@pytest.mark.parametrize("field", ["token", "encoding_aes_key"])
def test_prod_credential_shapes(field: str) -> None:
    bad = {"token": "x" * 33, "encoding_aes_key": "k" * 42}[field]
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG, **_prod(**{**REAL_CREDENTIALS, field: bad}))
    _error_names(err.value, f"wechat.{field}")


def test_dev_api_base_url_is_the_sandbox() -> None:
    s = load_settings(CONFIG, server={"host": "10.1.2.3", "port": 9000})
    assert s.api_base_url == "http://10.1.2.3:9000/sandbox"


@pytest.mark.parametrize("mode", ["dev", "prod"])
def test_configured_api_base_url_wins(mode: str) -> None:
    overrides = _prod(**REAL_CREDENTIALS) if mode == "prod" else {"wechat": {}}
    overrides["wechat"]["api_base_url"] = "https://proxy.example.invalid/wx/"
    s = load_settings(CONFIG, **overrides)
    assert s.api_base_url == "https://proxy.example.invalid/wx"


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(hours=24)),
        ("1.5h", timedelta(minutes=90)),
        ("3d", timedelta(days=3)),
        (" 2 h ", timedelta(hours=2)),
        (45, timedelta(seconds=45)),
        (2.5, timedelta(seconds=2.5)),
        (timedelta(hours=1), timedelta(hours=1)),
    ],
)
def test_parse_duration(value: Any, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["", "1w", "-1h", "h", "1 hour", "1h30m", True, None, [1]])
def test_parse_duration_refuses(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


# --- production mode: weak secrets -------------------------------------------------------------

GOOD_SECRET = "k7Qz-9vXb2Lm_T4pWc8Rn1Hs6Jd3Fg5YaE0u"  # 38 random-looking characters
GOOD_40 = "Zq3vN8xL2mK7pR4tW9bC1yF6hJ0sD5gA-_uEoIiT"


@pytest.mark.parametrize("key", ["api.token", "console.secret_key"])
@pytest.mark.parametrize("value", [
    "xiaoge-demo-api-token ",                     # a demo value with whitespace
    " xiaoge-demo-console-secret-change-me\n",
    "XIAOGE-DEMO-CONSOLE-SECRET-CHANGE-ME",
    "a" * 16,                                     # short (and repetitive)
    GOOD_40[:31],                                 # random but one short of 32
    "ab" * 20,                                    # "abababab…", 40 characters
    "abcdefgh" * 5,                               # 8 distinct, but one run repeated
    "1234567" * 6,                                # 42 characters, 7 distinct
])
def test_prod_refuses_a_weak_secret(key: str, value: str) -> None:
    overrides = _prod(**REAL_CREDENTIALS)
    section, name = key.split(".")
    overrides[section] = {name: value}
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG, **overrides)
    _error_names(err.value, key)
    assert "prod" in str(err.value)


def test_prod_refusals_name_each_key() -> None:
    """The demo console secret with a trailing space and an API token of 16 × "a" (the
    report): both refused at once, each on a line of its own naming its key."""
    overrides = _prod(**REAL_CREDENTIALS)
    overrides["api"] = {"token": "a" * 16}
    overrides["console"] = {"secret_key": "xiaoge-demo-console-secret-change-me "}
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG, **overrides)
    _error_names(err.value, "api.token")
    _error_names(err.value, "console.secret_key")
    assert "32" in str(err.value) and "demo" in str(err.value)


def test_prod_refuses_a_weak_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setenv("XIAOGE_API__TOKEN", "ab" * 20)
    overrides = _prod(**REAL_CREDENTIALS)
    del overrides["api"]
    with pytest.raises(ConfigError) as err:
        load_settings(CONFIG, **overrides)
    _error_names(err.value, "api.token")
    assert "repetitive" in str(err.value)


@pytest.mark.parametrize("value", [GOOD_40, GOOD_SECRET, "x" * 24 + "0123456789abcdef"])
def test_prod_accepts_a_long_random_secret(value: str) -> None:
    assert len(value) >= 32
    overrides = _prod(**REAL_CREDENTIALS)
    overrides["api"] = {"token": value}
    overrides["console"] = {"secret_key": value[::-1]}
    s = load_settings(CONFIG, **overrides)
    assert (s.api.token, s.console.secret_key) == (value, value[::-1])


def test_dev_keeps_the_demo_secrets() -> None:
    s = load_settings(CONFIG)
    assert s.api.token == "xiaoge-demo-api-token" and not s.cookie_secure


@pytest.mark.parametrize(("mode", "configured", "secure"), [
    ("dev", None, False), ("prod", None, True), ("prod", False, False), ("dev", True, True)])
def test_the_session_cookie_is_secure_by_default_in_prod(mode: str, configured: bool | None,
                                                         secure: bool) -> None:
    overrides = _prod(**REAL_CREDENTIALS) if mode == "prod" else {}
    overrides.setdefault("console", {})["cookie_secure"] = configured
    s = load_settings(CONFIG, **overrides)
    assert s.cookie_secure is secure
