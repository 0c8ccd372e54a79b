"""bot/config.py (SPEC §4 "Configuration"): TOML file, environment secrets that win, typed and
checked values, and dev mode decided by the credentials.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, MetricsConfig, ServerConfig, load_config

CREDENTIALS = """
[twilio]
account_sid = "ACfile0000000000000000000000000000"
auth_token = "file-token"
phone_number = "+15550009999"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "airtng.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_file_is_read_into_typed_sections(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        CREDENTIALS
        + """
api_base_url = "http://127.0.0.1:4010"

[server]
host = "0.0.0.0"
port = 9000
public_url = "https://bot.example.com/"

[storage]
path = "data/bot.db"
durability = "full"

[admin]
token = "file-admin"

[booking]
max_nights = 14
request_ttl_hours = 12
timezone = "America/Los_Angeles"

[session]
idle_hours = 2

[outbox]
concurrency = 4
max_attempts = 5
base_delay_seconds = 1
""",
    )
    config = load_config(path, {})
    assert config.dev_mode is False
    assert (config.server.host, config.server.port) == ("0.0.0.0", 9000)
    assert config.public_url == "https://bot.example.com"
    assert config.twilio.account_sid == "ACfile0000000000000000000000000000"
    assert config.twilio.auth_token == "file-token"
    assert config.twilio.phone_number == "+15550009999"
    assert config.twilio.api_base_url == "http://127.0.0.1:4010"
    assert config.admin.token == "file-admin"
    assert config.booking.max_nights == 14
    assert config.booking.request_ttl_hours == 12
    assert config.booking.timezone == "America/Los_Angeles"
    assert config.session.idle_hours == 2.0
    assert (config.outbox.concurrency, config.outbox.max_attempts) == (4, 5)
    assert config.outbox.base_delay_seconds == 1.0
    assert config.storage.durability == "full"
    # Relative paths are read from the configuration file's folder.
    assert config.database_path == tmp_path.resolve() / "data" / "bot.db"


def test_defaults_are_the_spec_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CREDENTIALS), {})
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.public_url == "http://127.0.0.1:8080"
    assert config.storage.path == "airtng.db"
    assert config.twilio.api_base_url == "https://api.twilio.com"
    assert config.booking.max_nights == 30
    assert config.booking.request_ttl_hours == 24
    assert config.booking.same_day_until_hour == 18
    assert config.session.idle_hours == 4
    assert config.admin.token == ""


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, CREDENTIALS + '\n[admin]\ntoken = "file-admin"\n')
    environ = {
        "TWILIO_ACCOUNT_SID": "ACenv00000000000000000000000000000",
        "TWILIO_AUTH_TOKEN": "env-token",
        "TWILIO_PHONE_NUMBER": "+15550008888",
        "AIRTNG_ADMIN_TOKEN": "env-admin",
        "UNRELATED": "x",
    }
    config = load_config(path, environ)
    assert config.twilio.account_sid == "ACenv00000000000000000000000000000"
    assert config.twilio.auth_token == "env-token"
    assert config.twilio.phone_number == "+15550008888"
    assert config.admin.token == "env-admin"
    assert config.dev_mode is False


def test_the_store_is_sqlite_unless_a_postgresql_url_is_given_and_the_environment_wins(
    tmp_path: Path,
) -> None:
    assert load_config(write(tmp_path, ""), {}).database_url == ""
    in_file = 'url = "postgresql://file@db:5432/airtng"\n'
    config = load_config(write(tmp_path, "[storage]\n" + in_file), {})
    assert config.database_url == "postgresql://file@db:5432/airtng"
    environ = {"AIRTNG_DATABASE_URL": "postgresql://env@db:5432/airtng"}
    config = load_config(write(tmp_path, "[storage]\n" + in_file), environ)
    assert config.database_url == "postgresql://env@db:5432/airtng"
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, ""), {"AIRTNG_DATABASE_URL": "mysql://u:secret@db/x"})
    assert "postgresql://" in str(refused.value) and "secret" not in str(refused.value)


def test_an_empty_environment_variable_does_not_erase_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CREDENTIALS), {"TWILIO_AUTH_TOKEN": ""})
    assert config.twilio.auth_token == "file-token"
    assert config.dev_mode is False


def test_credentials_from_the_environment_alone(tmp_path: Path) -> None:
    environ = {
        "TWILIO_ACCOUNT_SID": "ACenv00000000000000000000000000000",
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_PHONE_NUMBER": "+14155550100",
    }
    config = load_config(write(tmp_path, ""), environ)
    assert config.dev_mode is False
    assert config.twilio.auth_token == "t"


@pytest.mark.parametrize(
    ("twilio", "dev_mode"),
    [
        ('account_sid = "AC1"\nauth_token = "t"\nphone_number = "+14155550100"', False),
        ('account_sid = "AC1"\nauth_token = ""', True),
        ('account_sid = ""\nauth_token = "t"', True),
        ('auth_token = "t"', True),
        ('account_sid = "AC1"', True),
        ("", True),
    ],
    ids=["both", "empty-token", "empty-sid", "no-sid", "no-token", "neither"],
)
def test_dev_mode_is_on_when_a_credential_is_missing(
    tmp_path: Path, twilio: str, dev_mode: bool
) -> None:
    config = load_config(write(tmp_path, f"[twilio]\n{twilio}\n"), {})
    assert config.dev_mode is dev_mode


@pytest.mark.parametrize("number", ["", "4155550100", "+1 415 555 0100", "AIRTNG"])
def test_outside_dev_mode_the_bot_number_must_be_e164(tmp_path: Path, number: str) -> None:
    text = f'[twilio]\naccount_sid = "AC1"\nauth_token = "t"\nphone_number = "{number}"\n'
    with pytest.raises(ConfigError, match="phone_number"):
        load_config(write(tmp_path, text), {})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_dev_mode_serves_on_loopback(tmp_path: Path, host: str) -> None:
    config = load_config(write(tmp_path, f'[server]\nhost = "{host}"\n'), {})
    assert config.dev_mode is True
    assert config.server.host == host


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "bot.example.com"])
def test_dev_mode_refuses_a_host_that_is_not_loopback(tmp_path: Path, host: str) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        load_config(write(tmp_path, f'[server]\nhost = "{host}"\n'), {})


def test_credentials_allow_any_host(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CREDENTIALS + '\n[server]\nhost = "0.0.0.0"\n'), {})
    assert config.server.host == "0.0.0.0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[server]\nhots = "127.0.0.1"\n', "hots"),
        ('[twilio]\nauthtoken = "x"\n', "authtoken"),
        ('[servre]\nhost = "127.0.0.1"\n', "servre"),
        ("dev_mode = true\n[server]\nport = 1\n", "dev_mode"),
    ],
    ids=["key", "secret-key", "section", "top-level"],
)
def test_an_unknown_key_or_section_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text), {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[server]\nport = "8080"\n', "port"),
        ("[server]\nport = 70000\n", "port"),
        ("[booking]\nmax_nights = 0\n", "max_nights"),
        ("[booking]\nrequest_ttl_hours = -1\n", "request_ttl_hours"),
        ('[booking]\ntimezone = "Mars/Olympus"\n', "timezone"),
        ("[booking]\nsame_day_until_hour = 25\n", "same_day_until_hour"),
        ("[session]\nidle_hours = 0\n", "idle_hours"),
        ('[storage]\ndurability = "sometimes"\n', "durability"),
        ("[outbox]\nmax_attempts = 0\n", "max_attempts"),
        ("[booking]\nmax_nights = true\n", "max_nights"),
        ("[booking]\nmax_nights = 2.5\n", "max_nights"),
        ("[server\nport = 1\n", "airtng.toml"),
    ],
    ids=[
        "port-text",
        "port-range",
        "nights",
        "ttl",
        "zone",
        "same-day-hour",
        "idle",
        "durability",
        "attempts",
        "bool-for-int",
        "float-for-int",
        "not-toml",
    ],
)
def test_a_bad_value_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, CREDENTIALS + text), {})


def test_hours_may_be_fractional(tmp_path: Path) -> None:
    text = CREDENTIALS + "[booking]\nrequest_ttl_hours = 0.5\n[session]\nidle_hours = 1.5\n"
    config = load_config(write(tmp_path, text), {})
    assert config.booking.request_ttl_hours == 0.5
    assert config.session.idle_hours == 1.5


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nowhere.toml", {})


def test_no_file_gives_the_embedded_default(tmp_path: Path) -> None:
    config = load_config(None, {})
    assert config.dev_mode is True
    assert config.server.host == "127.0.0.1"
    assert config == Config(base_dir=config.base_dir, dev_mode=True)


def test_the_shipped_config_toml_loads(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config.toml"
    config = load_config(shipped, {})
    assert config.dev_mode is True  # no credentials are shipped
    assert config.server.host == "127.0.0.1"
    assert config.booking.request_ttl_hours == 24
    assert config.session.idle_hours == 4


def test_fleet_keys_have_defaults_the_shipped_file_repeats() -> None:
    shipped = load_config(Path(__file__).resolve().parents[2] / "config.toml", {})
    assert shipped.server.drain_seconds == Config().server.drain_seconds == 5.0
    assert shipped.metrics == MetricsConfig() == MetricsConfig(instance="", token="")


def test_the_metrics_token_may_come_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[metrics]\ntoken = "from-file"\ninstance = "web-3"\n', encoding="utf-8")
    config = load_config(path, {"AIRTNG_METRICS_TOKEN": "from-env"})
    assert (config.metrics.token, config.instance) == ("from-env", "web-3")


def test_a_negative_drain_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server]\ndrain_seconds = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[server\] drain_seconds must be 0 or more"):
        load_config(path, {})


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),  # every address: this machine's own is one
        ("::", "http://[::1]:8080"),
        ("10.1.2.3", "http://10.1.2.3:8080"),
    ],
)
def test_operator_commands_reach_the_service_where_it_listens(host: str, url: str) -> None:
    config = Config(server=ServerConfig(host=host, port=8080))
    assert config.local_url == url
    assert config.instance == f"{socket.gethostname()}:8080"
