"""What the dispatchers' console and the department desk share: how many cases a page of a list
shows, which statuses a department holds, and the words their templates and scripts use."""

from __future__ import annotations

from citygrid.web import N_
from events.cases import pages as case_page
from events.lifecycle import WORKING_STATUSES, CaseStatus
from events.listing.schemas import CaseSort

PAGE_SIZE = 50  # cases on a page of a list; the next page follows by its cursor
# Cases a department holds, running or suspended.
RUNNING = sorted(status.value for status in (*WORKING_STATUSES, CaseStatus.SUSPENDED))

LABELS = {
    "status": case_page.STATUS_LABELS,
    "light": case_page.LIGHT_LABELS,
    "urgency": case_page.URGENCY_LABELS,
}
SORT_NEWEST = N_("Newest first")
SORT_URGENT = N_("Urgent first")
SORT_DEADLINE = N_("Nearest deadline first")
SORT_OLDEST = N_("Oldest first")
SORT_DEFAULT = N_("Each list's own order")
SORT_TO_ACCEPT = N_("To accept first, then nearest deadline")

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


def sort_choices(default: CaseSort | None) -> dict[str, str]:
    """The sort select of a list page: the list's default first ('' for each list's own)."""
    choices = {
        CaseSort.URGENCY.value: SORT_URGENT,
        CaseSort.CREATED_AT_DESC.value: SORT_NEWEST,
        CaseSort.DUE_AT.value: SORT_DEADLINE,
        CaseSort.CREATED_AT.value: SORT_OLDEST,
    }
    if default is CaseSort.TO_ACCEPT:  # the desk's own order
        choices[CaseSort.TO_ACCEPT.value] = SORT_TO_ACCEPT
    if default is None:
        return {"": SORT_DEFAULT, **choices}
    return {default.value: choices.pop(default.value), **choices}
