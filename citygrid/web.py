"""What every web page shares: templates in the user's language, the navigation of each role,
rendering, and the error page a browser is shown instead of JSON."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from functools import lru_cache, partial
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from citygrid.accounts.roles import Principal, Role
from citygrid.errors import CitygridError, NotAuthenticated
from citygrid.i18n import LANGUAGES, negotiate_language, translations
from citygrid.settings import get_settings

# Packages whose `templates/` and `static/` folders the pages use (citygrid's own first).
WEB_PACKAGES = ("citygrid", "events", "dispatch", "maps", "grid", "analysis", "sensing")
LANGUAGE_COOKIE = "citygrid_lang"


# Every time a page shows is in the city's time zone, to the minute, in this one format.
TIME_FORMAT = "%Y-%m-%d %H:%M"


def local_time(moment: datetime | None, zone: tzinfo) -> str:
    """A time as the city reads it (in its time zone), or an empty string."""
    return moment.astimezone(zone).strftime(TIME_FORMAT) if moment else ""


# N_ is the gettext convention for "mark for translation, translate later".
def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it here (it is translated on use)."""
    return message


def city_time(moment: datetime | None) -> str:
    """A time in the configured city's zone and TIME_FORMAT (the templates' `city_time` filter)."""
    return local_time(moment, get_settings().city_zone)


# A span of clock time, by its length (see format_duration).
MINUTES = N_("%(minutes)d min")
HOURS = N_("%(hours)d h")
DAYS = N_("%(days)d d")
DAYS_AND_HOURS = N_("%(days)d d %(hours)d h")
OVERDUE_BY = N_("overdue by %(duration)s")
TIME_LEFT = N_("%(duration)s left")


def format_duration(hours: float, gettext: Callable[[str], str]) -> str:
    """The length of a span of clock hours as people say it: minutes under an hour, whole hours
    under a day, days and hours beyond ("3 天 4 小时"). The sign is dropped: the caller says
    whether the time is left or overdue (format_time_left does both)."""
    minutes = int(abs(hours) * 60 + 0.5)
    if minutes < 60:
        return gettext(MINUTES) % {"minutes": minutes}
    whole_hours = int(minutes / 60 + 0.5)
    if whole_hours < 24:
        return gettext(HOURS) % {"hours": whole_hours}
    days, rest = divmod(whole_hours, 24)
    if rest == 0:
        return gettext(DAYS) % {"days": days}
    return gettext(DAYS_AND_HOURS) % {"days": days, "hours": rest}


def format_time_left(hours: float, gettext: Callable[[str], str]) -> str:
    """Hours until a deadline as people say it ("剩余 2 天 3 小时"; negative: "超时 …")."""
    message = OVERDUE_BY if hours < 0 else TIME_LEFT
    return gettext(message) % {"duration": format_duration(hours, gettext)}


# Each role's pages, in the order of the navigation bar: (path, label).
NAVIGATION: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.INSPECTOR: (
        ("/m/report", N_("New report")),
        ("/m/reports", N_("My reports")),
        ("/m/tasks", N_("Verification tasks")),
    ),
    Role.CITIZEN: (("/m/report", N_("New report")), ("/m/reports", N_("My reports"))),
    Role.DISPATCHER: (
        ("/console", N_("Dispatch console")),
        ("/cases", N_("Cases")),
        ("/hotline", N_("Hotline tickets")),
        ("/hotline/callbacks", N_("Callbacks")),
        ("/dashboard", N_("Dashboard")),
        ("/analysis", N_("Analysis")),
    ),
    Role.DEPARTMENT: (("/desk", N_("Department desk")), ("/cases", N_("Cases"))),
    Role.MANAGER: (
        ("/dashboard", N_("Dashboard")),
        ("/cases", N_("Cases")),
        ("/analysis", N_("Analysis")),
        ("/console", N_("Dispatch console")),
        ("/hotline", N_("Hotline tickets")),
    ),
    Role.ADMIN: (
        ("/console", N_("Dispatch console")),
        ("/desk", N_("Department desk")),
        ("/dashboard", N_("Dashboard")),
        ("/cases", N_("Cases")),
        ("/hotline", N_("Hotline tickets")),
        ("/analysis", N_("Analysis")),
        ("/m/report", N_("New report")),
        ("/admin", N_("Administration")),
    ),
}
# Every role has an inbox (escalations, dispatches…), last in its bar; citygrid.js puts the
# unread count beside it.
INBOX_PATH = "/inbox"
NAVIGATION = {role: (*pages, (INBOX_PATH, N_("Inbox"))) for role, pages in NAVIGATION.items()}
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}
# What citygrid.js shows for an API error (validation errors by pydantic type, with its limits as
# {placeholders}; domain errors by field). Pages add their own with `js_messages`.
COMMON_JS_MESSAGES = {
    "error.unknown": N_("Something went wrong. Please try again."),
    "error.invalid": N_("This value is not valid."),
    "error.missing": N_("This field is required."),
    "error.string_too_short": N_("Too short: at least {min_length} characters."),
    "error.string_too_long": N_("Too long: at most {max_length} characters."),
    "error.too_long": N_("Too many: at most {max_length}."),
    "error.too_short": N_("Too few: at least {min_length}."),
    "error.float_parsing": N_("Enter a number."),
    "error.int_parsing": N_("Enter a whole number."),
    "error.greater_than_equal": N_("Must be at least {ge}."),
    "error.less_than_equal": N_("Must be at most {le}."),
    "error.greater_than": N_("Must be more than {gt}."),
    "error.less_than": N_("Must be less than {lt}."),
    "error.literal_error": N_("Choose one of: {expected}."),
    "error.enum": N_("Choose one of: {expected}."),
    "error.uuid_parsing": N_("Not a valid identifier."),
    "error.string_pattern_mismatch": N_("The format is not right."),
    "error.field.lon/lat": N_("This place is outside the city's grid."),
    "error.field.category": N_("Unknown or retired category."),
    "error.field.reason": N_("Give a reason."),
    "error.field.photos": N_("A photo could not be read or is too large."),
    "error.network": N_("No network: try again when you are back online."),
}


def landing_path(role: Role) -> str:
    """Where a user of this role starts."""
    return NAVIGATION[role][0][0]


def page_language(request: Request) -> str:
    """The language of a page: the user's choice (cookie), else the browser's."""
    return negotiate_language(
        request.headers.get("accept-language"), request.cookies.get(LANGUAGE_COOKIE)
    )


def gettext_for(request: Request) -> Callable[[str], str]:
    """The translation function of the request's language, for messages made in Python."""
    return translations(page_language(request)).gettext


def template_folders() -> list[Path]:
    """The packages' `templates/` folders; each package names its templates `<package>/…`."""
    folders = [Path(str(files(package))) / "templates" for package in WEB_PACKAGES]
    return [folder for folder in folders if folder.is_dir()]


@lru_cache(maxsize=len(LANGUAGES))
def template_environment(language: str) -> Environment:
    """One Jinja environment per language (gettext is installed per environment, not per call)."""
    environment = Environment(
        loader=ChoiceLoader([FileSystemLoader(folder) for folder in template_folders()]),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    environment.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    gettext = translations(language).gettext
    # {{ moment|city_time }}, {{ hours|duration }}, {{ hours_to_deadline|time_left }}.
    environment.filters["city_time"] = city_time
    environment.filters["duration"] = partial(format_duration, gettext=gettext)
    environment.filters["time_left"] = partial(format_time_left, gettext=gettext)
    environment.globals["format_duration"] = environment.filters["duration"]
    return environment


def render(
    request: Request,
    template_name: str,
    context: Mapping[str, Any],
    *,
    principal: Principal | None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page in the user's language, with the navigation of the user's role.

    `context` may hold `js_messages`: the strings the page's script shows, key → English message
    marked with N_(); they are translated here and handed to the script as JSON (never as code)."""
    language = page_language(request)
    gettext = translations(language).gettext
    script_messages = {**COMMON_JS_MESSAGES, **context.get("js_messages", {})}
    template = template_environment(language).get_template(template_name)
    html = template.render(
        request=request,
        language=language,
        principal=principal,
        navigation=NAVIGATION[principal.role] if principal else (),
        **{key: value for key, value in context.items() if key != "js_messages"},
        js_messages={key: gettext(message) for key, message in script_messages.items()},
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def is_page_request(request: Request) -> bool:
    """Whether a browser navigated here for a page (errors become pages, not JSON)."""
    path = request.url.path
    if path.startswith(("/api/", "/open311/")) or request.method != "GET":
        return False
    return "text/html" in request.headers.get("accept", "")


def page_error(request: Request, error: CitygridError, status_code: int) -> Response:
    """Not signed in: the login page (coming back here after). Otherwise an error page."""
    if isinstance(error, NotAuthenticated):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    context = {"status_code": status_code, "message": error.message}
    return render(request, "error.html", context, principal=None, status_code=status_code)
