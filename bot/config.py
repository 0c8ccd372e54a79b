"""The service's configuration: one typed object loaded once from config.toml and the environment.

config = load_config(Path("config.toml"), os.environ)
config.twilio.account_sid, config.dev_mode
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # The URL base Twilio calls. Signatures are computed over it, so it must be exactly what
    # is configured at Twilio (scheme, host, port), not what this process happens to see.
    public_url: str = ""
    # After SIGTERM, how long to keep serving (with /readyz answering 503) before listening
    # stops: long enough for a balancer to see it and send nothing more. Dev mode and SIGINT
    # skip it.
    drain_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class StorageConfig:
    path: str = "airtng.db"
    # Empty: the embedded SQLite file at `path`, owned by one process. "postgresql://user@host:
    # port/db": the store is that PostgreSQL database, and any number of instances may serve it.
    url: str = ""
    # "normal": WAL with synchronous=NORMAL (a committed turn survives a process crash);
    # "full": synchronous=FULL, fsync before every answer (survives power loss too).
    durability: str = "normal"


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    account_sid: str = ""
    auth_token: str = ""
    phone_number: str = ""
    api_base_url: str = "https://api.twilio.com"


@dataclass(frozen=True, slots=True)
class AdminConfig:
    token: str = ""


@dataclass(frozen=True, slots=True)
class BookingConfig:
    max_nights: int = 30
    request_ttl_hours: float = 24.0
    # Dates people text ("tomorrow", "Dec 3") are read in this zone.
    timezone: str = "UTC"
    # A stay can start today ("tonight", "today for 2 nights") until this hour, local time in
    # `timezone`; from then on check-in is from tomorrow. 0 turns same-day stays off.
    same_day_until_hour: int = 18


@dataclass(frozen=True, slots=True)
class SessionConfig:
    idle_hours: float = 4.0


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    concurrency: int = 8
    # Transient failures (429, 5xx, network) are retried up to this many times, at most
    # max_delay_seconds apart: about a day with the defaults. Permanent ones fail at once.
    max_attempts: int = 300
    base_delay_seconds: float = 2.0
    max_delay_seconds: float = 300.0
    request_timeout_seconds: float = 15.0


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    # The `instance` label on every metric of GET /metrics; empty: this host's name and the
    # port served (web-1:8080).
    instance: str = ""
    # If set, GET /metrics asks for `Authorization: Bearer <token>` (not the admin token: a
    # scraper needs to read counts, not to run the console). Empty: open, like /healthz.
    token: str = ""


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    twilio: TwilioConfig = field(default_factory=TwilioConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    booking: BookingConfig = field(default_factory=BookingConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    # Where relative paths (storage.path) are resolved: the config file's folder.
    base_dir: Path = field(default_factory=Path.cwd)
    # Dev mode is the embedded default: no Twilio credentials were given, so the service makes
    # its own, serves loopback only and delivers to the local simulator. Decided once at load.
    dev_mode: bool = False

    @property
    def public_url(self) -> str:
        url = self.server.public_url or f"http://{self.server.host}:{self.server.port}"
        return url.rstrip("/")

    @property
    def database_url(self) -> str:
        """Where the store is: "postgresql://..." or "" for the embedded SQLite file."""
        return self.storage.url

    @property
    def local_url(self) -> str:
        """Where this process can be reached from its own machine (operator commands use it)."""
        host = self.server.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.server.port}"

    @property
    def instance(self) -> str:
        return self.metrics.instance or f"{socket.gethostname()}:{self.server.port}"

    @property
    def database_path(self) -> Path:
        path = Path(self.storage.path)
        return path if path.is_absolute() else self.base_dir / path


# Secrets may come from the environment instead of the file; the environment wins.
ENVIRONMENT = {
    "TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
    "TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
    "TWILIO_PHONE_NUMBER": ("twilio", "phone_number"),
    "AIRTNG_ADMIN_TOKEN": ("admin", "token"),
    "AIRTNG_DATABASE_URL": ("storage", "url"),
    "AIRTNG_METRICS_TOKEN": ("metrics", "token"),
}


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if it exists), overlay the environment, and check the result."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path is not None:
        if path.exists():
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as error:
                raise ConfigError(f"{path}: {error}") from error
        elif path.name != "config.toml" or path.parent != Path("."):
            raise ConfigError(f"{path}: no such configuration file")
        base_dir = path.resolve().parent
    config = Config(base_dir=base_dir)
    sections = {}
    for section in fields(Config):
        if section.name in ("base_dir", "dev_mode"):
            continue
        current = getattr(config, section.name)
        values = dict(raw.get(section.name, {}))
        for variable, (name, key) in ENVIRONMENT.items():
            if name == section.name and environ.get(variable):
                values[key] = environ[variable]
        sections[section.name] = _section(section.name, current, values)
    unknown = set(raw) - set(sections)
    if unknown:
        raise ConfigError(f"unknown section(s) in configuration: {', '.join(sorted(unknown))}")
    config = replace(config, **sections)
    dev_mode = not config.twilio.account_sid or not config.twilio.auth_token
    return _checked(replace(config, dev_mode=dev_mode))


def _section(name: str, current: Any, values: dict[str, Any]) -> Any:
    if not is_dataclass(current) or isinstance(current, type):
        raise TypeError(f"[{name}] is not a section")
    known = {f.name: f for f in fields(current)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"[{name}] has no key {key!r}")
        expected = type(getattr(current, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise ConfigError(f"[{name}] {key} must be a {expected.__name__}, not {value!r}")
        changes[key] = value
    return replace(current, **changes)


def _checked(config: Config) -> Config:
    url = config.storage.url
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f'[storage] url must be empty (the embedded SQLite file) or "postgresql://...",'
            f" not {redact_url(url)!r}"
        )
    if config.storage.durability not in ("normal", "full"):
        raise ConfigError('[storage] durability must be "normal" or "full"')
    if not 1 <= config.server.port <= 65535 and config.server.port != 0:
        raise ConfigError("[server] port must be between 1 and 65535")
    if config.booking.max_nights < 1:
        raise ConfigError("[booking] max_nights must be at least 1")
    if not 0 <= config.booking.same_day_until_hour <= 24:
        raise ConfigError("[booking] same_day_until_hour must be an hour from 0 to 24")
    if config.booking.request_ttl_hours <= 0 or config.session.idle_hours <= 0:
        raise ConfigError("[booking] request_ttl_hours and [session] idle_hours must be positive")
    if config.server.drain_seconds < 0:
        raise ConfigError("[server] drain_seconds must be 0 or more")
    if config.outbox.concurrency < 1 or config.outbox.max_attempts < 1:
        raise ConfigError("[outbox] concurrency and max_attempts must be at least 1")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(config.booking.timezone)
    except Exception as error:
        raise ConfigError(f"[booking] timezone {config.booking.timezone!r} is unknown") from error
    number = config.twilio.phone_number
    if not config.dev_mode and not (number.startswith("+") and number[1:].isdigit()):
        # Notifications that are not replies (expiry notices, reminders) are sent from it.
        raise ConfigError(
            f"[twilio] phone_number must be the bot's number in E.164 (like +14155550100), "
            f"not {number!r}"
        )
    if config.dev_mode and not is_loopback(config.server.host):
        # Dev mode has no real credentials: anyone who can reach it could sign webhooks.
        raise ConfigError(
            f"dev mode (no Twilio credentials) only serves on loopback, not {config.server.host!r}"
        )
    return config


def redact_url(url: str) -> str:
    """A database URL fit to print: any password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    credentials, at, place = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{place}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
