"""The case card the dispatchers' console and the department desk share: the columns their
reads select, how many rows a section shows, and the words their templates and scripts use."""

from __future__ import annotations

from citygrid.web import N_
from events.cases import pages as case_page
from events.lifecycle import WORKING_STATUSES, CaseStatus

ROWS_SHOWN = 200  # per section: a console is a work list, not an archive (the listing is)
# Cases a department holds, running or suspended.
RUNNING = sorted(status.value for status in (*WORKING_STATUSES, CaseStatus.SUSPENDED))

CASE_CARD = """
    c.id, c.number, c.status, c.urgency, c.description, c.created_at, c.version,
    cat.code AS category_code, cat.name_zh AS category_name_zh, cat.name_en AS category_name_en,
    g.code AS cell_code
"""

LABELS = {
    "status": case_page.STATUS_LABELS,
    "light": case_page.LIGHT_LABELS,
    "urgency": case_page.URGENCY_LABELS,
}

# What the pages' scripts show (the API's field errors beyond the common ones, and outcomes).
ACTION_MESSAGES = {
    "error.field.department_code": N_("Choose an active department."),
    "error.field.action": N_("The case has changed meanwhile: reload the page and try again."),
    "error.field.into_case_id": N_("These two cases cannot be merged."),
    "error.field.photo_ids": N_("A photo could not be attached: add it again."),
    "error.forbidden": N_("You may not do this."),
    "done.reload": N_("Done. The list is up to date."),
    "working": N_("Working…"),
}
