"""Settings from the environment or ``.env`` (see ``.env.example`` for every one)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.i18n import SUPPORTED, negotiate
from bot.timeofday import QuietHours, parse_clock


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    bot_data_dir: Path = Path("./data")
    bot_database_url: str | None = None
    bot_default_locale: str = "zh_CN"
    bot_timezone: str = "Asia/Shanghai"
    bot_log_level: str = "INFO"

    telegram_bot_token: SecretStr | None = None
    telegram_api_server: str = "https://api.telegram.org"  # or a self-hosted Bot API server
    telegram_api_local: bool = False  # that server runs with --local (files read from its disk)
    telegram_max_download_mb: int = 20  # the Bot API's limit; raise only with --local
    telegram_webhook_url: str | None = None  # set: webhook mode; empty: long polling
    telegram_webhook_listen: str = "127.0.0.1:8081"
    telegram_webhook_secret: SecretStr | None = None
    telegram_poll_timeout: int = 30
    telegram_library: Literal["aiogram", "ptb"] = "aiogram"

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

    @field_validator("bot_default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        locale = negotiate(value, default="")
        if locale not in SUPPORTED:
            raise ValueError(f"unsupported locale {value!r}; use one of {SUPPORTED}")
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
        QuietHours.parse(value)  # raises on a malformed window
        return value

    @field_validator("bot_reminder_time")
    @classmethod
    def _reminder_time(cls, value: str) -> str:
        parse_clock(value)
        return value

    @property
    def database_url(self) -> str:
        if self.bot_database_url:
            return self.bot_database_url
        return f"sqlite+aiosqlite:///{(self.bot_data_dir / 'bot.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.bot_data_dir / "files"

    @property
    def outbox_dir(self) -> Path:
        return self.bot_data_dir / "outbox"

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
                Fernet(key.strip().encode())  # raises on a malformed key
        return value
