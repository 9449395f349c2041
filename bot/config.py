"""Settings from the environment or ``.env`` (see ``.env.example`` for every one)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet, MultiFernet
from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.i18n import SUPPORTED, negotiate
from bot.startup import require_together
from bot.timeofday import QuietHours, parse_clock


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    bot_data_dir: Path = Path("./data")
    bot_database_url: str | None = None
    bot_default_locale: str = "zh_CN"
    bot_timezone: str = "Asia/Shanghai"
    bot_log_level: str = "INFO"
    bot_log_format: Literal["text", "json"] = "text"  # json: one object a line
    # Where accepted files live: "local" (BOT_DATA_DIR/files) or "database" (the blobs table,
    # seen by every host that shares the database). Unset: database on PostgreSQL, else local.
    bot_file_store: Literal["local", "database"] | None = None

    telegram_bot_token: SecretStr | None = None
    telegram_api_server: str = "https://api.telegram.org"  # or a self-hosted Bot API server
    telegram_api_local: bool = False  # that server runs with --local (files read from its disk)
    telegram_max_download_mb: int = 20  # the Bot API's limit; raise only with --local
    telegram_webhook_url: str | None = None  # set: webhook mode; empty: long polling
    telegram_webhook_listen: str = "127.0.0.1:8081"
    telegram_webhook_secret: SecretStr | None = None
    telegram_poll_timeout: int = 30
    telegram_library: Literal["aiogram", "ptb", "botapi"] = "aiogram"

    # WeCom (企业微信) self-built app; the channel starts when the first five are set.
    wecom_corp_id: str | None = None
    wecom_agent_id: str | None = None
    wecom_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_encoding_aes_key: SecretStr | None = None
    wecom_previous_encoding_aes_key: SecretStr | None = None  # accepted during a key rotation
    wecom_listen: str = "0.0.0.0:8080"
    wecom_path: str = "/wecom/callback"
    wecom_api_base: str = "https://qyapi.weixin.qq.com"

    # WeCom 微信客服 (kf): outside WeChat users; starts when the corp id and the three below are
    # set. The group robot (optional) carries staff alerts.
    wecom_kf_secret: SecretStr | None = None
    wecom_kf_token: SecretStr | None = None
    wecom_kf_encoding_aes_key: SecretStr | None = None
    wecom_kf_path: str = "/wecom/kf"
    wecom_kf_servicer: str | None = None  # userid a merchant is handed to; empty: the queue
    wecom_robot_key: SecretStr | None = None

    # The one-time upload page, served by the bot's web server.
    bot_public_url: str | None = None  # e.g. https://bot.example.com (what merchants open)
    bot_upload_secret: SecretStr | None = None  # HMAC key; empty: one kept in the data dir
    bot_upload_ttl: int = 1800  # seconds an upload link stays valid
    bot_upload_listen: str = "127.0.0.1:8081"  # the page's own server when no channel's serves it

    # Reminders: quiet hours and send time are the merchant's local time (Merchant.timezone).
    bot_quiet_hours: str = "21:00-09:00"  # nothing is sent then; "off": no quiet hours
    bot_reminder_time: str = "10:00"  # date reminders go out then (plus a per-merchant spread)
    bot_reminder_lease: int = 300  # seconds a worker's claim holds before another may send
    bot_reminder_attempts: int = 5  # sends tried before a reminder is given up as failed
    bot_reminder_poll: int = 60  # seconds between the worker's passes inside `run`

    # Documents and privacy.
    bot_encryption_key: SecretStr | None = None  # Fernet key(s), comma-separated; first encrypts
    bot_retention_days: int | None = None  # files of merchants inactive this long are deleted

    # Reading the business license scan (OCR in a worker process): on|off.
    bot_license_ocr: bool = True
    bot_license_ocr_timeout: float = 20.0  # seconds one read may take before it is given up
    bot_license_ocr_workers: int = 1  # worker processes (each ~450 MB resident, ~650 MB at peak)
    # The operator console and the handoff to a person.
    bot_admin_listen: str | None = None  # host:port of the console; empty: no console
    bot_admin_session_hours: int = 12  # a console sign-in lasts this long
    bot_team_hours: str = "Mon-Fri 09:00-18:00 (Beijing time)"  # told to a merchant handed over
    bot_handoff_realert_minutes: int = 15  # a merchant waiting this long alerts staff again

    @field_validator("bot_default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        locale = negotiate(value, default="")
        if locale not in SUPPORTED:
            raise ValueError(f"use one of {', '.join(SUPPORTED)}")
        return locale

    @field_validator("wecom_agent_id")
    @classmethod
    def _agent_id(cls, value: str | None) -> str | None:
        if value and not value.strip().isdigit():
            raise ValueError("WECOM_AGENT_ID must be the app's numeric AgentId")
        return value.strip() if value else None

    @property
    def wecom_configured(self) -> bool:
        secrets = (self.wecom_secret, self.wecom_token, self.wecom_encoding_aes_key)
        return bool(self.wecom_corp_id and self.wecom_agent_id
                    and all(s is not None and s.get_secret_value() for s in secrets))

    @property
    def wecom_kf_missing(self) -> list[str]:
        """Names a partial 微信客服 configuration still needs (empty: complete, or not begun;
        the corp id alone belongs to the self-built app as well)."""
        values = {"WECOM_CORP_ID": self.wecom_corp_id,
                  "WECOM_KF_SECRET": _plain(self.wecom_kf_secret),
                  "WECOM_KF_TOKEN": _plain(self.wecom_kf_token),
                  "WECOM_KF_ENCODING_AES_KEY": _plain(self.wecom_kf_encoding_aes_key)}
        if not any(v for k, v in values.items() if k != "WECOM_CORP_ID"):
            return []
        return [name for name, value in values.items() if not value]

    @property
    def wecom_kf_configured(self) -> bool:
        return bool(_plain(self.wecom_kf_secret) and _plain(self.wecom_kf_token)
                    and _plain(self.wecom_kf_encoding_aes_key) and self.wecom_corp_id)

    @property
    def wecom_robot(self) -> str | None:
        return _plain(self.wecom_robot_key) or None

    @model_validator(mode="after")
    def _telegram_webhook(self) -> Settings:
        if self.telegram_webhook_url:
            secret = self.telegram_webhook_secret
            value = secret.get_secret_value() if secret else ""
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
                raise ValueError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET: 1-256 "
                                 "characters of A-Z, a-z, 0-9, _ and -")
        return self

    @field_validator("bot_quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        try:
            QuietHours.parse(value)
        except ValueError:
            raise ValueError("write two times of day HH:MM-HH:MM, such as 21:00-09:00, "
                             "or off") from None
        return value

    @field_validator("bot_reminder_time")
    @classmethod
    def _reminder_time(cls, value: str) -> str:
        try:
            parse_clock(value)
        except ValueError:
            raise ValueError("write a time of day HH:MM, such as 10:00") from None
        return value

    @property
    def database_url(self) -> str:
        if self.bot_database_url:
            return self.bot_database_url
        return f"sqlite+aiosqlite:///{(self.bot_data_dir / 'bot.db').resolve()}"

    @property
    def file_store(self) -> str:
        return self.file_store_for(self.database_url)

    def file_store_for(self, database_url: str) -> str:
        """BOT_FILE_STORE, or what suits the database (``chat --db`` may name another)."""
        if self.bot_file_store:
            return self.bot_file_store
        return "database" if database_url.startswith("postgresql") else "local"

    @model_validator(mode="after")
    def _file_store(self) -> Settings:
        if self.bot_file_store == "database" and self.database_url.startswith("sqlite"):
            raise ValueError("BOT_FILE_STORE=database needs a PostgreSQL BOT_DATABASE_URL; "
                             "with SQLite, files stay in BOT_DATA_DIR (local)")
        return self

    @property
    def files_dir(self) -> Path:
        return self.bot_data_dir / "files"

    @property
    def outbox_dir(self) -> Path:
        return self.bot_data_dir / "outbox"

    @property
    def cipher(self) -> MultiFernet | None:
        """What encrypts secrets at rest (ID numbers, the shared access token), or ``None``
        without BOT_ENCRYPTION_KEY: its keys in order, the first encrypts, all decrypt."""
        key = self.bot_encryption_key
        keys = [k.strip() for k in (key.get_secret_value() if key else "").split(",")]
        return MultiFernet([Fernet(k.encode()) for k in keys if k]) if any(keys) else None

    @field_validator("bot_admin_listen", mode="before")
    @classmethod
    def _admin_listen(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str):
            _host, sep, port = value.strip().rpartition(":")
            if not sep or not port.isdigit():
                raise ValueError(f"BOT_ADMIN_LISTEN must be host:port, got {value!r}")
        return value

    @field_validator("bot_file_store", mode="before")
    @classmethod
    def _file_store_name(cls, value: object) -> object:
        return value.strip().lower() or None if isinstance(value, str) else value

    @field_validator("bot_retention_days", mode="before")
    @classmethod
    def _retention_days(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None  # `BOT_RETENTION_DAYS=` as in .env.example: no retention
        return value

    @field_validator("bot_encryption_key")
    @classmethod
    def _encryption_key(cls, value: SecretStr | None) -> SecretStr | None:
        for key in (value.get_secret_value() if value else "").split(","):
            if key.strip():
                try:
                    Fernet(key.strip().encode())
                except ValueError:
                    raise ValueError(
                        "each key (comma-separated) must be a Fernet key: 32 bytes in url-safe "
                        "base64, as printed by Fernet.generate_key()") from None
        return value

    # -- start-up checks: a bad value stops start-up with one sentence (bot/startup.py) -----
    @field_validator("bot_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("use an IANA timezone name such as Asia/Shanghai or "
                             "Europe/Berlin") from None
        return value.strip()

    @field_validator("bot_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"use one of {', '.join(LOG_LEVELS)}")
        return value.strip().upper()

    @field_validator("telegram_bot_token")
    @classmethod
    def _telegram_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value().strip() if value else ""
        if not token:
            return None
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            raise ValueError("a token from @BotFather looks like 123456789:AAE…, digits, a colon, "
                             "then letters, digits, _ and -")
        return SecretStr(token)

    @field_validator("bot_database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        accepted = ("use an async SQLAlchemy URL: sqlite+aiosqlite:///path/bot.db or "
                    "postgresql+asyncpg://user:password@host/db")
        try:
            dialect = make_url(value.strip()).get_dialect()
        except (ArgumentError, NoSuchModuleError):
            raise ValueError(f"unknown database driver; {accepted}") from None
        if not dialect.is_async:
            raise ValueError(f"{dialect.driver} is not an async driver; {accepted}")
        try:
            dialect.import_dbapi()
        except ImportError:
            raise ValueError(f"the driver {dialect.driver} is not installed "
                             f"(.venv/bin/pip install {dialect.driver})") from None
        return value.strip()

    @model_validator(mode="after")
    def _channels_in_part(self) -> Settings:
        # The corp id alone belongs to 微信客服 as well: only the app's own settings begin it.
        if any(_plain(v) if isinstance(v, SecretStr) else v
               for v in (getattr(self, f) for f in WECOM_APP_SETTINGS[1:])):
            require_together(self, "The WeCom self-built app", WECOM_APP_SETTINGS)
        return self


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
WECOM_APP_SETTINGS = ("wecom_corp_id", "wecom_agent_id", "wecom_secret", "wecom_token",
                      "wecom_encoding_aes_key")


def _plain(secret: SecretStr | None) -> str:
    return secret.get_secret_value().strip() if secret is not None else ""
