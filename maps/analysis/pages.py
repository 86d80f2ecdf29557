"""`/analysis`: the analyses in one place — emerging hot spots, the forecast, recurrences after
closure and the category suggestion model's measured accuracy — each with what it answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import Principal, Role
from citygrid.db import SessionDep
from citygrid.web import N_, render
from events.suggestions import service as suggestions

router = APIRouter(tags=["pages"], route_class=RoleCheckedRoute)

AnalysisReader = Annotated[Principal, Depends(Allow(Role.MANAGER, Role.DISPATCHER, Role.ADMIN))]

# (address, title, the question it answers); the order a manager's week goes through them.
ANALYSES = (
    (
        "/maps/emerging",
        N_("Emerging hot spots"),
        N_(
            "Which places are getting worse week after week: Gi* hot spots per period and a "
            "Mann-Kendall trend, classified as new, intensifying, persistent, diminishing, "
            "sporadic, oscillating or historical."
        ),
    ),
    (
        "/analysis/forecast",
        N_("Case forecast"),
        N_(
            "How many cases the next 14 days bring per street and category group, with 80 %% "
            "intervals and the backtest that says how far to trust them."
        ),
    ),
    (
        "/hotline/ranking",
        N_("Hotline ranking"),
        N_(
            "How each unit, street, community and district did on the hotline's tickets: "
            "response, resolution and satisfaction rates, their score, the monthly ranking "
            "and each one's trend."
        ),
    ),
    (
        "/sensing/precision",
        N_("Detector precision"),
        N_(
            "Which sensors and video-analytics algorithms to trust: confirmed, rejected and "
            "verified alarms and the precision per algorithm, device type and month."
        ),
    ),
    (
        "/recurrences",
        N_("Recurrences after closure"),
        N_(
            "Closed problems that came back at the same place or component, ranked, and each "
            "department's recurrence rate in the evaluation."
        ),
    ),
)


@router.get("/analysis", response_class=HTMLResponse)
def analysis_hub(request: Request, session: SessionDep, principal: AnalysisReader) -> HTMLResponse:
    """Every analysis with the question it answers, and the suggestion model's accuracy."""
    context: dict[str, Any] = {
        "analyses": ANALYSES,
        "models": suggestions.versions(session, limit=5),
    }
    return render(request, "maps/analysis.html", context, principal=principal)
