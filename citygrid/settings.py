"""Settings, read once from the environment (prefix CITYGRID_) and validated at start-up."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit
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
    # Hotline tickets (events/hotline): the service standard's time limits (None: the Beijing
    # defaults in events/data/hotline_service_standard.yaml), the page size of ticket lists
    # and the category of a ticket whose hint and content name none (a category code).
    hotline_service_standard: Path | None = None
    hotline_page_max: int = Field(default=500, gt=0)
    hotline_default_category: str | None = None
    # MQTT (sensing): MQTT_URL (no prefix, like DATABASE_URL) points at an existing broker,
    # mqtt://user:password@host:1883 or mqtts://…:8883; unset means the embedded mosquitto
    # (citygrid/broker.py) on 127.0.0.1 and a port derived from the checkout's path.
    mqtt_url: str | None = Field(
        default=None,
        validation_alias="MQTT_URL",
        pattern=r"^(mqtt|mqtts)://([^@/\s]+@)?(\[[0-9A-Fa-f:.]+\]|[^@/\s:\[\]]+)(:\d{1,5})?/?$",
    )
    mqtt_port: int | None = Field(default=None, gt=0, lt=65536)  # the embedded broker's port
    mqtt_bind_address: str = "127.0.0.1"  # the embedded broker listens here (and a unix socket)
    mqtt_max_queued_messages: int = Field(default=1_000_000, ge=0)  # per offline session; 0: no cap
    # The ingest worker (`citygrid sensing worker`): its persistent session's client id, how many
    # messages it holds unacknowledged (MQTT 5 receive maximum), and a batch's size and wait.
    mqtt_client_id: str = Field(default="citygrid-ingest", min_length=1, max_length=64)
    mqtt_receive_maximum: int = Field(default=5_000, gt=0, le=65535)
    # MQTT 5 (its receive maximum sets the window) or 3.1.1 (cheaper per message; the window is
    # the broker's max_inflight_messages, 20 by default); auto: 3.1.1 with the embedded broker,
    # whose window this config sets, 5 with MQTT_URL.
    mqtt_protocol: Literal["auto", "5", "3.1.1"] = "auto"
    mqtt_batch_max: int = Field(default=2_000, gt=0)
    mqtt_batch_wait_ms: float = Field(default=50.0, ge=0)
    mqtt_reconnect_max_s: float = Field(default=30.0, gt=0)  # reconnect backoff ceiling
    sensing_offline_check_s: float = Field(default=60.0, gt=0)  # silent devices checked this often
    # Hotline callbacks, rates and sync (dispatch/callbacks, hotline_rates, hotline_sync): tries to
    # reach a caller and the least gap between them; the score's weights (adding up to 1) and the
    # credit a "partly solved" / "fair" answer earns; months of trend; events pushed per round.
    hotline_callback_max_attempts: int = Field(default=3, ge=1, le=20)
    hotline_callback_retry_gap_minutes: float = Field(default=60.0, ge=0)
    # Callback answers that send the work back to the unit (rework); the others close it.
    hotline_rework_answers: list[Literal["not_solved", "partly"]] = ["not_solved", "partly"]
    hotline_weight_response: float = Field(default=0.10, ge=0, le=1)
    hotline_weight_resolution: float = Field(default=0.45, ge=0, le=1)
    hotline_weight_satisfaction: float = Field(default=0.45, ge=0, le=1)
    hotline_partly_solved_credit: float = Field(default=0.5, ge=0, le=1)
    hotline_fair_credit: float = Field(default=0.5, ge=0, le=1)
    hotline_trend_months: int = Field(default=6, ge=1, le=36)
    hotline_sync_batch: int = Field(default=500, gt=0)
    # Sensing (感知): devices' alarm rules, the HTTP alarm sources, re-detection verification
    sensing_flap_flips: int = Field(default=4, ge=2, le=100)  # alarm/recovery flips that damp…
    sensing_flap_window_minutes: float = Field(default=30.0, gt=0, le=1440)  # …within this window
    sensing_offline_after_heartbeats: float = Field(default=3.0, ge=1, le=100)  # missed → offline
    sensing_source_threshold: float = Field(default=0.8, ge=0, le=1)  # new sources' confidence bar
    sensing_redetection_window_minutes: float = Field(default=60.0, gt=0, le=10080)
    sensing_devices_page_max: int = Field(default=500, ge=1, le=10_000)
    # A device's case is filed (立案) at once and dispatched to the department its routing names
    # (the watched component's maintainer first); False leaves it to the dispatchers' queue.
    sensing_auto_dispatch: bool = True
    # Hotline unit workflow and summons (dispatch/hotline, dispatch/summons): after this many
    # approved returns a ticket goes to the unit of last resort (兜底: the district government's
    # department code); a summoned unit's limit to report in and answer when none is given.
    hotline_returns_before_last_resort: int = Field(default=2, ge=1)
    hotline_last_resort_department_code: str = "110101-ZF"
    summons_default_limit_hours: float = Field(default=2.0, gt=0)
    # Hotline address matching (grid/places): a ticket's address is located into the best
    # gazetteer place when the matcher's confidence (0..1) reaches this; below, it waits to be
    # located by a dispatcher. The places search answers at most places_page_max rows.
    address_match_threshold: float = Field(default=0.6, ge=0, le=1)
    places_page_max: int = Field(default=100, gt=0, le=1_000)
    # Replicas (citygrid/db.py ReadSessionDep): streaming standbys' libpq URLs, a JSON list
    # ('["postgresql://…", …]'); maps, evaluation, exports, the dashboard and listings read from
    # the one whose replay lag is under replica_max_lag_s (checked every replica_check_interval_s),
    # else from the primary; a client that wrote reads from the primary for replica_max_lag_s.
    replica_urls: list[str] = []
    replica_max_lag_s: float = Field(default=5.0, gt=0)
    replica_check_interval_s: float = Field(default=1.0, gt=0)

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


def split_multi_host(url: str) -> str:
    """libpq's multi-host form `postgresql://u@h1:p1,h2:p2/db?…` (a pg_auto_failover formation)
    as the `?host=h1,h2&port=p1,p2` form, which SQLAlchemy's URL parser understands."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return url
    names, ports = [], []
    for item in hosts.split(","):
        host, port = (item.rsplit(":", 1)) if re.search(r":\d+$", item) else (item, "")
        names.append(host)
        ports.append(port)
    query = [*parse_qsl(parts.query), ("host", ",".join(names))]
    if any(ports):
        query.append(("port", ",".join(ports)))
    netloc = f"{userinfo}@" if userinfo else ""  # urlunsplit would drop "//" before an empty one
    return f"{parts.scheme}://{netloc}{parts.path}?{urlencode(query, safe=',/')}"


def normalise_database_url(url: str) -> str:
    """Make a libpq-style URL use the psycopg 3 driver (a multi-host one in the query form)."""
    url = split_multi_host(url)
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
