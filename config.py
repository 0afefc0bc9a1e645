"""Typed settings from the environment (and `.env`). Secrets are SecretStr: never printed."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent
DEFAULT_DB = f"sqlite+aiosqlite:///{ROOT / 'data' / 'jaring.db'}"
# The development hash key: fine for the terminal demo, refused with a live channel.
DEV_HASH_KEY = "jaring-dev-key-change-me"
MIN_HASH_KEY = 16

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """ "10.0.0.1, 172.16.0.0/12, ::1" -> networks; ValueError naming a wrong entry."""
    out = []
    for part in spec.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"JARING_TRUSTED_PROXIES: {part!r} is not an IP address or network"
            ) from None
    return tuple(out)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DB
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    # Telegram's limits (about 30 messages/s overall, 1/s per chat). Configurable so a benchmark
    # against a fake server can measure processing cost rather than the policy.
    telegram_rate_global: float = 30.0
    telegram_rate_per_chat: float = 1.0
    whatsapp_token: SecretStr | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_api_url: str | None = (
        None  # Graph API base incl. version; default Meta's (pywa's version)
    )
    # WhatsApp Cloud API: 80 messages/s per business number; the per-user pair limit is about one
    # message every few seconds, so 1/s with a small burst (the outbox allows 3) is safe.
    whatsapp_rate_global: float = 80.0
    whatsapp_rate_per_chat: float = 1.0
    # Approved utility template sent instead of free text outside the 24-hour window
    # ("a reply is waiting, write to us to see it"); no parameters.
    whatsapp_template_name: str = "jaring_balasan_menunggu"
    whatsapp_template_language: str = "id"
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # Send the dashboard's session cookie only over HTTPS. On by itself when JARING_PUBLIC_URL
    # is https (`cookie_secure`); this forces it otherwise.
    web_cookie_secure: bool = False
    # Reverse proxies (TLS terminators) in front of the dashboard, comma-separated IPs or
    # networks ("127.0.0.1, 10.0.0.0/8"). Only a request from one of them has its
    # X-Forwarded-For read for the client address (login throttling, audit): web/proxies.py.
    # Empty (the default): trust nobody, the peer's address is the client's.
    jaring_trusted_proxies: str = ""
    jaring_programs: Path = ROOT / "data" / "programs.toml"
    jaring_region: Path = ROOT / "data" / "region" / "kota_bogor.toml"
    # The understanding layer's lexicon (phrases per intent and language, slang): docs/understanding.md
    jaring_intents: Path = ROOT / "data" / "intents.toml"
    jaring_default_locale: str = "id"
    jaring_media_dir: Path = ROOT / "data" / "media"
    # Dashboard DTSEN uploads wait here (0700, files 0600) while their import job runs.
    jaring_import_dir: Path = ROOT / "data" / "imports"
    # Secret used to key hashes of NIKs in the attempt log (so the log holds no NIK).
    jaring_hash_key: SecretStr = SecretStr(DEV_HASH_KEY)
    # Tests and benchmarks that run `bot.py run` with a token against a fake Telegram/WhatsApp
    # server set this to start with the development hash key and placeholder contacts (a
    # warning is logged). Never in production: docs/security.md.
    jaring_allow_dev_defaults: bool = False
    # The dashboard's address as staff reach it (e.g. https://jaring.dinsos.example.go.id), for
    # the links in staff alerts (docs/staff.md). Unset: alerts carry the page's path only.
    jaring_public_url: str | None = None
    # How long a reply keeps being retried through network errors, 5xx and 429 before it fails
    # (final answers such as a blocked bot or an invalid recipient fail it at once): docs/delivery.md
    jaring_send_horizon_hours: float = 24.0
    # Several workers on one PostgreSQL database (docs/scaling.md). JARING_WORKERS: how many
    # processes serve this database (`run --workers N` sets it for its workers; set it yourself
    # when you start N processes behind the proxy): each takes 1/N of the send limits when Redis
    # is not there to share them. JARING_REDIS_URL (e.g. redis://127.0.0.1:6379/0): the send
    # limits shared by the fleet through Redis when JARING_WORKERS > 1.
    jaring_workers: int = 1
    jaring_redis_url: str | None = None
    # How long a worker's hold on the replies it is sending lasts without renewal: a killed
    # worker's replies are taken over (the one caught mid-request resent once) after this.
    jaring_outbox_lease_seconds: float = 30.0
    # Seconds between the scheduled jobs' ticks (reminders, SLA, retention).
    jaring_scheduler_interval: float = 60.0
    log_level: str = "INFO"
    # Log lines as text (the terminal) or one JSON object each (deploy: a log shipper reads them);
    # docs/observe.md.
    jaring_log_format: str = "text"
    # /metrics: without a token only a loopback peer not behind a proxy may read it; with one,
    # only `Authorization: Bearer <token>`, from anywhere (docs/observe.md).
    jaring_metrics_token: SecretStr | None = None

    @field_validator("jaring_log_format")
    @classmethod
    def _log_format(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in ("text", "json"):
            raise ValueError("JARING_LOG_FORMAT must be 'text' or 'json'")
        return v

    @field_validator("jaring_default_locale")
    @classmethod
    def _locale(cls, v: str) -> str:
        if v not in ("id", "en", "su", "jv"):
            raise ValueError("JARING_DEFAULT_LOCALE must be 'id', 'en', 'su' or 'jv'")
        return v

    @field_validator("jaring_workers")
    @classmethod
    def _workers(cls, v: int) -> int:
        if v < 1:
            raise ValueError("JARING_WORKERS must be 1 or more")
        return v

    @field_validator("jaring_outbox_lease_seconds", "jaring_scheduler_interval")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(
                "JARING_OUTBOX_LEASE_SECONDS and JARING_SCHEDULER_INTERVAL must be > 0"
            )
        return v

    @field_validator("jaring_public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        v = (v or "").strip().rstrip("/")
        if not v:
            return None
        if not (v.startswith("https://") or v.startswith("http://")):
            raise ValueError("JARING_PUBLIC_URL must start with https:// (or http://)")
        return v

    @field_validator("jaring_trusted_proxies")
    @classmethod
    def _proxies(cls, v: str) -> str:
        return ", ".join(str(n) for n in parse_networks(v))

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if v.startswith("postgresql://") or v.startswith("postgres://"):
            v = "postgresql+asyncpg://" + v.split("://", 1)[1]
        if v.startswith("sqlite:///"):
            v = "sqlite+aiosqlite:///" + v.split(":///", 1)[1]
        if not (v.startswith("sqlite+aiosqlite://") or v.startswith("postgresql+asyncpg://")):
            raise ValueError(
                "DATABASE_URL must be sqlite+aiosqlite:///PATH or postgresql+asyncpg://..."
            )
        return v

    @property
    def trusted_proxies(self) -> tuple[Network, ...]:
        return parse_networks(self.jaring_trusted_proxies)

    @property
    def cookie_secure(self) -> bool:
        """The session cookie is Secure when staff reach the dashboard over https."""
        return self.web_cookie_secure or (self.jaring_public_url or "").startswith("https://")

    @property
    def live_channels(self) -> list[str]:
        """The real channels configured: Telegram, WhatsApp (the terminal is not one)."""
        return [
            n
            for n, on in (("Telegram", self.telegram_enabled), ("WhatsApp", self.whatsapp_enabled))
            if on
        ]

    def launch_problems(self, placeholders: list[str]) -> list[str]:
        """What stops `bot.py run` with a live channel: each names what to set. `placeholders`
        are programs.toml's office contacts still marked "ganti sebelum tayang"."""
        if not self.live_channels:
            return []
        problems = []
        key = self.jaring_hash_key.get_secret_value()
        if key == DEV_HASH_KEY:
            problems.append(
                "JARING_HASH_KEY is the development default: set JARING_HASH_KEY to a long "
                'random secret (python -c "import secrets; print(secrets.token_urlsafe(32))"), '
                "and keep it: the hashes in the database are keyed with it."
            )
        elif len(key) < MIN_HASH_KEY:
            problems.append(
                f"JARING_HASH_KEY is shorter than {MIN_HASH_KEY} characters: set a long random secret."
            )
        if placeholders:
            problems.append(
                f"{self.jaring_programs} still has placeholder office contacts "
                f'("ganti sebelum tayang"): {", ".join(placeholders)}. Write the real ones '
                "there (or point JARING_PROGRAMS at the city's file)."
            )
        return problems

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None and bool(
            self.telegram_bot_token.get_secret_value()
        )

    @property
    def whatsapp_enabled(self) -> bool:
        """All four secrets/ids are needed: token and number to send, app secret to verify
        webhooks, verify token for Meta's subscription handshake."""

        def given(v) -> bool:
            return v is not None and bool(v.get_secret_value() if isinstance(v, SecretStr) else v)

        return all(
            given(v)
            for v in (
                self.whatsapp_token,
                self.whatsapp_phone_number_id,
                self.whatsapp_app_secret,
                self.whatsapp_verify_token,
            )
        )


def load_settings(**overrides) -> Settings:
    return Settings(**overrides)
