"""Settings, read once from the environment (prefix CITYGRID_) and validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEMO_SECRET = "citygrid-demo-secret-do-not-use-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYGRID_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    # DATABASE_URL (no prefix) points at an existing PostGIS; unset means the embedded cluster.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    secret_key: str = DEMO_SECRET
    token_ttl_minutes: int = Field(default=12 * 60, gt=0)
    # How stale another process's view of revoked tokens and disabled users may be.
    revocation_refresh_s: float = Field(default=2.0, gt=0)
    state_dir: Path = PROJECT_DIR / ".citygrid"
    pool_size: int = Field(default=10, gt=0)
    locate_snap_m: float = Field(default=30.0, ge=0)
    locate_bulk_max: int = Field(default=10_000, gt=0)
    cells_page_max: int = Field(default=1_000, gt=0)
    overlap_tolerance_m2: float = Field(default=1.0, ge=0)
    gap_tolerance_m2: float = Field(default=1.0, ge=0)
    grid_import_max_bytes: int = Field(default=200 * 1024 * 1024, gt=0)  # a grid file upload
    # The city's clock: pages, exports, Open311 and "today" read times in it.
    city_time_zone: str = "Asia/Shanghai"
    # Intake
    media_dir: Path = PROJECT_DIR / ".citygrid" / "media"  # photos: public/ and private/
    anonymous_reports: bool = False  # citizens may report without a token
    anonymous_reports_per_minute: int = Field(default=10, gt=0)  # per client address
    photo_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    photos_per_report_max: int = Field(default=6, ge=0)
    description_max_chars: int = Field(default=4000, gt=0)
    duplicate_radius_m: float = Field(default=50.0, ge=0)  # per category override in the taxonomy
    duplicate_window_hours: float = Field(default=72.0, ge=0)
    # Lifecycle
    reopen_window_days: float = Field(default=30.0, ge=0)
    public_listing: bool = False  # an anonymous list of cases at cell resolution
    # Dispatch
    default_calendar_code: str = "default"  # for departments without a calendar of their own
    queue_page_max: int = Field(default=500, gt=0)
    bulk_assign_max: int = Field(default=1_000, gt=0)
    verification_limit_hours: float = Field(default=4.0, gt=0)  # working hours after handling
    # Scheduler (escalations, webhook deliveries), in-process
    scheduler_enabled: bool = True
    scheduler_interval_s: float = Field(default=30.0, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=8, gt=0)
    webhook_backoff_s: float = Field(default=30.0, gt=0)  # doubled after each failed attempt
    # Maps
    map_tiles_url: str | None = None  # the city's own XYZ tile server; None: grid outlines
    map_markers_cap: int = Field(default=2_000, ge=0)  # case markers only up to this many cases
    map_cells_drawn_max: int = Field(default=3_000, gt=0)  # more: communities, then streets
    # Component inventory (部件)
    component_radius_m: float = Field(default=15.0, ge=0)  # per category override in the taxonomy
    components_page_max: int = Field(default=5_000, gt=0)
    component_import_max_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    # Hardening
    cors_origins: list[str] = []  # closed by default: no cross-origin browser calls
    request_max_bytes: int = Field(default=64 * 1024 * 1024, gt=0)  # bodies larger are refused
    log_format: Literal["json", "text"] = "json"

    @field_validator("city_time_zone")
    @classmethod
    def known_time_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {name!r}") from error
        return name

    @property
    def city_zone(self) -> ZoneInfo:
        """The city's time zone."""
        return ZoneInfo(self.city_time_zone)

    @model_validator(mode="after")
    def refuse_demo_secret_in_production(self) -> Settings:
        if self.env == "production" and self.secret_key == DEMO_SECRET:
            raise ValueError(
                "CITYGRID_SECRET_KEY: the demo secret is refused when CITYGRID_ENV=production"
            )
        return self

    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL: DATABASE_URL when given, else the embedded cluster's."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        from citygrid import cluster

        return cluster.Cluster.for_state_dir(self.state_dir).sqlalchemy_url("citygrid")


def normalise_database_url(url: str) -> str:
    """Make a libpq-style URL use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()


async def settings_dependency() -> Settings:
    """Settings for a route; async because a sync dependency costs a threadpool hop per request."""
    return get_settings()


SettingsDep = Annotated[Settings, Depends(settings_dependency)]
