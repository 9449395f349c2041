"""Settings from the environment or ``.env`` (see ``.env.example`` for every one)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.i18n import SUPPORTED, negotiate


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    bot_data_dir: Path = Path("./data")
    bot_database_url: str | None = None
    bot_default_locale: str = "zh_CN"
    bot_timezone: str = "Asia/Shanghai"
    bot_log_level: str = "INFO"

    telegram_bot_token: SecretStr | None = None

    @field_validator("bot_default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        locale = negotiate(value, default="")
        if locale not in SUPPORTED:
            raise ValueError(f"unsupported locale {value!r}; use one of {SUPPORTED}")
        return locale

    @property
    def database_url(self) -> str:
        if self.bot_database_url:
            return self.bot_database_url
        return f"sqlite+aiosqlite:///{(self.bot_data_dir / 'bot.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.bot_data_dir / "files"
