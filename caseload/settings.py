"""The one typed settings object, read from CASELOAD_* environment variables."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_SECRET_KEY = "development-only-secret-change-me"
# The development default for CORS and WebSocket origins: a front end's dev server on this machine.
LOCAL_ORIGINS = r"^http://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class EmailBackend(StrEnum):
    FILE = "file"
    SMTP = "smtp"
    CONSOLE = "console"


class PaymentProcessorKind(StrEnum):
    TEST = "test"  # accepts the documented test tokens (tok_visa, ...); the embedded default


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELOAD_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./var")
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str = DEVELOPMENT_SECRET_KEY
    env: Environment = Environment.DEVELOPMENT
    public_url: str = "http://127.0.0.1:8000"
    # origins whose pages may call the API (CORS) and open WebSockets: a JSON list or commas
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # a regular expression for more origins; unset means LOCAL_ORIGINS in development, none in
    # production
    allowed_origin_regex: str | None = None
    # direct peers (load balancers, reverse proxies) whose X-Forwarded-For is believed; from
    # anyone else the header is ignored and the peer's own address counts
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)

    email_backend: EmailBackend = EmailBackend.FILE
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    email_from: str = "Caseload <no-reply@caseload.invalid>"

    max_upload_bytes: int = 20_000_000
    max_import_rows: int = 100_000
    phone_region: str = "US"
    import_batch_rows: int = 500
    # imports with at least this many rows left are read and validated in a child process,
    # on another core than the writing; a smaller one is done before the child would start
    import_child_reader_rows: int = Field(default=5000, ge=0)
    # a worker renews its lease on an import every batch; a dead worker's job resumes after this
    import_lease_seconds: int = 15
    # imports one worker process runs at once; more wait in the queue for a free slot on any
    # worker, so several workers share a burst of imports instead of one taking them all
    worker_import_slots: int = Field(default=2, ge=1)
    # CPU priority of `caseload worker` (Unix niceness, 0-19; inherited by its row reader): on
    # a machine the API shares, a person's request gets the CPU before an import's next rows
    worker_niceness: int = Field(default=5, ge=0, le=19)
    # API processes `caseload serve` runs on its one port (they share nothing but the database
    # and Redis); unset: one per core, at most two, beside the worker on a small machine
    api_processes: int | None = Field(default=None, ge=1)

    session_lifetime_seconds: int = 12 * 3600
    session_idle_seconds: int = 30 * 60
    # WebSockets: a socket that sends no connection_init within this is closed (4408)
    ws_connection_init_timeout_seconds: float = Field(default=10.0, gt=0)
    # caps on live subscriptions, counted across every API process (Redis)
    max_subscriptions_per_socket: int = Field(default=20, ge=1)
    max_subscriptions_per_user: int = Field(default=50, ge=1)
    max_sockets_per_user: int = Field(default=10, ge=1)
    # events held for one slow subscriber before its stream ends (it must subscribe again)
    subscriber_queue_size: int = Field(default=256, ge=1)
    # Redis connections one API process holds for commands (the queue, rate limits, APQ);
    # besides: its one pub/sub connection and the socket hub's 4 (socket slots). More
    # concurrent commands wait their turn.
    redis_pool_connections: int = Field(default=4, ge=1)
    # failed log-ins per account from one address (the low limit that stops guessing), and per
    # account from every address together (high, so a stranger cannot lock the owner out)
    login_max_failures: int = 5
    login_max_failures_per_account: int = 100
    login_failure_window_seconds: int = 15 * 60
    signup_max_per_hour: int = 20  # sign-ups per client address
    email_confirmation_resends_per_hour: int = 5  # per account
    # password-reset e-mails per address asked for, and per client address asking
    password_reset_max_per_email_per_hour: int = 3
    password_reset_max_per_address_per_hour: int = 20
    password_reset_ttl_seconds: int = 3600
    # argon2id cost (memory in KiB), and how many hashes one process computes at once
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_cost: int = Field(default=65536, ge=8)
    password_hash_threads: int = Field(default=2, ge=1)
    invitation_ttl_seconds: int = 7 * 24 * 3600
    # onboarding reminders: the first this many days after the invitation, then every
    # reminder_every_days, at most reminder_max of them
    reminder_first_days: int = 3
    reminder_every_days: int = 3
    reminder_max: int = 3
    payment_processor: PaymentProcessorKind = PaymentProcessorKind.TEST

    outbox_sweep_after_seconds: int = 5
    outbox_max_attempts: int = 12

    max_query_depth: int = 12
    max_aliases: int = 30
    max_query_tokens: int = 2000
    # cost ceilings checked before parsing and validation (see caseload/graphql_http.py)
    max_request_bytes: int = 256_000  # a JSON body; uploads have max_upload_bytes
    max_document_bytes: int = 20_000
    max_selections: int = 400  # fields selected, fragment contents counted at each spread
    max_repeated_field: int = 12  # one response name in one selection set (validation is n²)
    max_variable_depth: int = 16
    # automatic persisted queries in Redis
    persisted_query_ttl_seconds: int = 7 * 24 * 3600
    persisted_query_max_entries: int = 5000
    # signed links that download an import's issues CSV without an Authorization header
    download_link_seconds: int = 300

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _no_development_secret_in_production(self) -> Settings:
        if self.production and self.secret_key == DEVELOPMENT_SECRET_KEY:
            raise ValueError(
                "CASELOAD_SECRET_KEY is the development value; set a long random secret "
                "(for example `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) "
                "before running with CASELOAD_ENV=production"
            )
        return self

    @property
    def origin_regex(self) -> str | None:
        """The origin pattern in force: the configured one, else local origins in development."""
        if self.allowed_origin_regex:
            return self.allowed_origin_regex
        return None if self.production else LOCAL_ORIGINS

    @property
    def production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "caseload.sqlite3"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def resolved_api_processes(self) -> int:
        if self.api_processes is not None:
            return self.api_processes
        return max(1, min(2, os.cpu_count() or 1))

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{self.sqlite_path.resolve()}?busy_timeout=15000&synchronous=NORMAL&cache_size=-65536&wal_autocheckpoint=10000"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
