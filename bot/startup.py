"""Start-up failures as one plain sentence: a bad setting, a database that cannot be reached.

Every command goes through :func:`plain_failures`: a pydantic ``ValidationError`` from
``Settings()`` or a :class:`StartupError` raised while starting ends the process with status 2
and one line per bad setting on stderr, naming the setting and what it accepts. The traceback
follows only with ``BOT_LOG_LEVEL=DEBUG``. A validator in ``bot/config.py`` only has to raise
``ValueError("what is accepted")``; its setting's name and value are added here.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

EXIT_STATUS = 2
_CREDENTIALS = re.compile(r"://([^:/@]*):[^@/]*@")  # a password in a database URL is not shown


class StartupError(Exception):
    """A failure to start that a person fixes in the settings: its text is the whole message."""


def setting_name(field: str) -> str:
    return field.upper()


def require_together(settings: Any, what: str, fields: Sequence[str]) -> None:
    """A channel configured in part: some of ``fields`` set, not all. Raises naming the rest."""
    present = [f for f in fields if _is_set(getattr(settings, f))]
    if present and len(present) < len(fields):
        missing = [setting_name(f) for f in fields if f not in present]
        raise ValueError(f"{what} is configured in part: set {_join(missing)} as well "
                         f"(or leave {_join([setting_name(f) for f in present])} empty)")


def _is_set(value: Any) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is not None and str(value).strip() != ""


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _is_secret(settings_class: type | None, field: str) -> bool:
    info = getattr(settings_class, "model_fields", {}).get(field)
    return info is not None and "SecretStr" in repr(info.annotation)


def _reason(error: dict[str, Any]) -> str:
    cause = (error.get("ctx") or {}).get("error")
    text = str(cause) if isinstance(cause, Exception) else error["msg"]
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def explain_validation(exc: ValidationError, settings_class: type | None = None) -> list[str]:
    """One sentence per bad setting."""
    lines = []
    for error in exc.errors():
        fields = [str(part) for part in error["loc"] if isinstance(part, str)]
        reason = _reason(error)
        if not fields:  # a rule over several settings: its text names them
            lines.append(reason[:1].upper() + reason[1:] + ".")
            continue
        name = setting_name(fields[0])
        value = error.get("input")
        hidden = _is_secret(settings_class, fields[0]) or not isinstance(value, str)
        shown = "" if hidden else "=" + repr(_CREDENTIALS.sub(r"://\1:***@", value))
        lines.append(f"{name}{shown} is not accepted: {reason}.")
    return lines


def explain(exc: BaseException, settings_class: type | None = None) -> list[str] | None:
    """The lines to print for a start-up failure; None for anything else (a real bug)."""
    if isinstance(exc, ValidationError):
        return explain_validation(exc, settings_class)
    if isinstance(exc, StartupError):
        return [str(exc)]
    if isinstance(exc, SettingsError):  # pydantic-settings could not even parse a value
        cause = exc.__cause__
        return [f"{exc}" + (f": {cause}" if cause else "") + "."]
    return None


def debugging() -> bool:
    """``BOT_LOG_LEVEL=DEBUG`` in the environment or ``.env``, read without the settings (which
    may be what failed)."""
    level = os.environ.get("BOT_LOG_LEVEL")
    if level is None and os.path.exists(".env"):
        from dotenv import dotenv_values

        level = dotenv_values(".env").get("BOT_LOG_LEVEL")
    return (level or "").strip().upper() == "DEBUG"


@contextmanager
def plain_failures(settings_class: type | None = None) -> Iterator[None]:
    """Turn a start-up failure into its sentence and ``SystemExit(2)``."""
    try:
        yield
    except (ValidationError, StartupError, SettingsError) as exc:
        if isinstance(exc, ValidationError) and settings_class is not None \
                and exc.title != settings_class.__name__:
            raise  # another model's data (a Telegram update, say): a bug, with its traceback
        lines = explain(exc, settings_class) or [str(exc)]
        if debugging():
            traceback.print_exc(file=sys.stderr)
        for line in lines:
            print(line, file=sys.stderr)
        raise SystemExit(EXIT_STATUS) from None
