"""The emerging hot spot categories' names and colours, and the analysis settings in words
(plain values: shared by the page, the table view and the legend)."""

from __future__ import annotations

from collections.abc import Callable

from analysis.emerging.categories import EmergingCategory as C
from analysis.emerging.periods import PeriodUnit
from citygrid.web import N_
from maps.schemas import Unit

Gettext = Callable[[str], str]
CATEGORY_LABELS: dict[C, str] = {
    C.NEW_HOT: N_("New hot spot"),
    C.CONSECUTIVE_HOT: N_("Consecutive hot spot"),
    C.INTENSIFYING_HOT: N_("Intensifying hot spot"),
    C.PERSISTENT_HOT: N_("Persistent hot spot"),
    C.DIMINISHING_HOT: N_("Diminishing hot spot"),
    C.SPORADIC_HOT: N_("Sporadic hot spot"),
    C.OSCILLATING_HOT: N_("Oscillating hot spot"),
    C.HISTORICAL_HOT: N_("Historical hot spot"),
    C.NEW_COLD: N_("New cold spot"),
    C.CONSECUTIVE_COLD: N_("Consecutive cold spot"),
    C.INTENSIFYING_COLD: N_("Intensifying cold spot"),
    C.PERSISTENT_COLD: N_("Persistent cold spot"),
    C.DIMINISHING_COLD: N_("Diminishing cold spot"),
    C.SPORADIC_COLD: N_("Sporadic cold spot"),
    C.OSCILLATING_COLD: N_("Oscillating cold spot"),
    C.HISTORICAL_COLD: N_("Historical cold spot"),
    C.NONE: N_("No pattern detected"),
}
CATEGORY_COLOURS: dict[C, str] = {
    C.NEW_HOT: "#67001f",
    C.CONSECUTIVE_HOT: "#b2182b",
    C.INTENSIFYING_HOT: "#e34a33",
    C.PERSISTENT_HOT: "#fc8d59",
    C.DIMINISHING_HOT: "#fdcc8a",
    C.SPORADIC_HOT: "#c51b7d",
    C.OSCILLATING_HOT: "#8c510a",
    C.HISTORICAL_HOT: "#d8b365",
    C.NEW_COLD: "#053061",
    C.CONSECUTIVE_COLD: "#2166ac",
    C.INTENSIFYING_COLD: "#4393c3",
    C.PERSISTENT_COLD: "#92c5de",
    C.DIMINISHING_COLD: "#d1e5f0",
    C.SPORADIC_COLD: "#762a83",
    C.OSCILLATING_COLD: "#1b7837",
    C.HISTORICAL_COLD: "#5ab4ac",
    C.NONE: "#f7f7f7",
}
PERIOD_COUNTS = {PeriodUnit.WEEK: N_("%(count)s weeks"), PeriodUnit.MONTH: N_("%(count)s months")}
UNIT_LABELS = {Unit.CELL: N_("by cell"), Unit.COMMUNITY: N_("by community"),
               Unit.STREET: N_("by street")}  # fmt: skip
COLUMN_LABELS = {
    "code": N_("Code"),
    "name": N_("Name"),
    "category": N_("Category"),
    "reports": N_("Reports"),
    "last_period_reports": N_("Reports in the last period"),
    "hot_periods": N_("Hot periods"),
    "cold_periods": N_("Cold periods"),
    "tau": N_("Trend (Mann-Kendall tau)"),
    "trend_p": N_("Trend p"),
    "last_z": N_("Gi* z in the last period"),
}
