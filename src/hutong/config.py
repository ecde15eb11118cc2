"""Settings read from the environment, with the defaults documented in docs/configuration.md.

Secrets never come from code: each is read from ``HUTONG_<NAME>`` or from the file named by
``HUTONG_<NAME>_FILE``; when neither is set, a random secret is generated once into
``$HUTONG_DATA_DIR/secrets/`` (mode 0600) so a single-machine setup needs no configuration.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = "var"


class ConfigError(ValueError):
    """A setting is present but cannot be used; the message names the variable."""


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name, "1" if default else "0").lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def read_secret(name: str, data_dir: Path) -> str:
    """Return secret ``name`` from ``HUTONG_<NAME>``, ``HUTONG_<NAME>_FILE`` or the data dir."""
    var = f"HUTONG_{name.upper()}"
    if os.environ.get(var):
        return os.environ[var]
    path_var = os.environ.get(f"{var}_FILE")
    if path_var:
        try:
            return Path(path_var).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{var}_FILE={path_var!r} cannot be read: {exc}") from exc
    path = data_dir / "secrets" / name.lower()
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return value


def parse_keyring(raw: str, var: str) -> tuple[tuple[str, bytes], ...]:
    """Parse ``kid:secret[,kid:secret...]``; the first key signs, all of them verify."""
    keys: list[tuple[str, bytes]] = []
    for part in raw.split(","):
        kid, sep, secret = part.strip().partition(":")
        if not sep or not kid or not secret:
            raise ConfigError(f"{var} must look like 'kid:secret[,kid:secret]'")
        if not kid.isalnum() or len(kid) > 16:
            raise ConfigError(f"{var}: key id {kid!r} must be 1-16 letters or digits")
        keys.append((kid, secret.encode()))
    if len({kid for kid, _ in keys}) != len(keys):
        raise ConfigError(f"{var}: key ids must be distinct")
    return tuple(keys)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    public_url: str
    token_keys: tuple[tuple[str, bytes], ...]
    pii_key: bytes
    embedded_worker: bool = True
    click_dedup_seconds: int = 3600
    click_fsync_ms: int = 200
    click_segment_seconds: int = 60
    passcode_ttl_days: int = 30
    pii_retention_days: int = 180
    postback_tolerance_seconds: int = 300
    cache_poll_ms: int = 500
    bot_rate_per_minute: int = 120
    jump_flood_per_minute: int = 6000
    api_rate_per_second: int = 1000
    api_burst: int = 2000
    anonymous_rate_per_second: int = 100
    max_body_bytes: int = 8 << 20
    keep_alive_seconds: int = 75
    settle_holding_days: int = 15
    settle_lookback_days: int = 92
    settle_every_seconds: int = 3600
    trust_every_seconds: int = 3600
    alliance_poll_seconds: int = 300
    log_level: str = "INFO"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def clicklog_dir(self) -> Path:
        return self.data_dir / "clicklog"


def load_settings() -> Settings:
    """Read every setting from the environment (see docs/configuration.md)."""
    data_dir = Path(_env("HUTONG_DATA_DIR", DEFAULT_DATA_DIR)).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    default_db = f"sqlite:///{data_dir / 'hutong.sqlite3'}"
    token_raw = os.environ.get("HUTONG_TOKEN_KEYS") or f"k1:{read_secret('token_key', data_dir)}"
    return Settings(
        data_dir=data_dir,
        database_url=_env("HUTONG_DATABASE_URL", default_db),
        public_url=_env("HUTONG_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        token_keys=parse_keyring(token_raw, "HUTONG_TOKEN_KEYS"),
        pii_key=read_secret("pii_key", data_dir).encode(),
        embedded_worker=_env_bool("HUTONG_EMBEDDED_WORKER", True),
        click_dedup_seconds=_env_int("HUTONG_CLICK_DEDUP_SECONDS", 3600),
        click_fsync_ms=_env_int("HUTONG_CLICK_FSYNC_MS", 200),
        click_segment_seconds=_env_int("HUTONG_CLICK_SEGMENT_SECONDS", 60),
        passcode_ttl_days=_env_int("HUTONG_PASSCODE_TTL_DAYS", 30),
        pii_retention_days=_env_int("HUTONG_PII_RETENTION_DAYS", 180),
        postback_tolerance_seconds=_env_int("HUTONG_POSTBACK_TOLERANCE_SECONDS", 300),
        cache_poll_ms=_env_int("HUTONG_CACHE_POLL_MS", 500),
        bot_rate_per_minute=_env_int("HUTONG_BOT_RATE_PER_MINUTE", 120),
        jump_flood_per_minute=_env_int("HUTONG_JUMP_FLOOD_PER_MINUTE", 6000),
        api_rate_per_second=_env_int("HUTONG_API_RATE_PER_SECOND", 1000),
        api_burst=_env_int("HUTONG_API_BURST", 2000),
        anonymous_rate_per_second=_env_int("HUTONG_ANONYMOUS_RATE_PER_SECOND", 100),
        max_body_bytes=_env_int("HUTONG_MAX_BODY_BYTES", 8 << 20),
        keep_alive_seconds=_env_int("HUTONG_KEEP_ALIVE_SECONDS", 75),
        settle_holding_days=_env_int("HUTONG_SETTLE_HOLDING_DAYS", 15),
        settle_lookback_days=_env_int("HUTONG_SETTLE_LOOKBACK_DAYS", 92),
        settle_every_seconds=_env_int("HUTONG_SETTLE_EVERY_SECONDS", 3600),
        trust_every_seconds=_env_int("HUTONG_TRUST_EVERY_SECONDS", 3600),
        alliance_poll_seconds=_env_int("HUTONG_ALLIANCE_POLL_SECONDS", 300),
        log_level=_env("HUTONG_LOG_LEVEL", "INFO"),
    )
