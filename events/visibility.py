"""Who may see a case (pure): the one rule behind reading, acting on, photos of, listing and
exporting cases.

Dispatchers, managers and admins see every case. Everyone else sees a case through a relation
to it, and each role has its own relations:

- a department member: cases its department holds or held (current and past assignments);
- an inspector: cases they reported, cases they took a step on (a verification, say), and every
  case waiting for on-site verification (nothing assigns verification to one inspector or area);
- a citizen: cases they reported (a report on it now, or one first filed as it).

A case merged into a case one may see is visible too: the survivor's page lists it, its reports
and photos. A case one may not see is answered like a case that does not exist (404), so
guessing ids reveals nothing. The listing's SQL filter
(`events.listing.service.visible_case_ids`) is
built from the same table, relation by relation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from citygrid.accounts.roles import Principal, Role
from events.lifecycle import CaseStatus


class Relation(enum.StrEnum):
    """How a user can be related to a case."""

    REPORTED = "reported"  # a report of theirs is on the case, or was first filed as it
    ACTED = "acted"  # they took a step in the case's history
    DEPARTMENT_HELD = "department_held"  # their department holds or held the case
    AWAITING_VERIFICATION = "awaiting_verification"  # handled, not merged: any inspector verifies


SEES_EVERY_CASE = frozenset({Role.DISPATCHER, Role.MANAGER, Role.ADMIN})
SEEN_THROUGH: dict[Role, frozenset[Relation]] = {
    Role.DEPARTMENT: frozenset({Relation.DEPARTMENT_HELD}),
    Role.INSPECTOR: frozenset({Relation.REPORTED, Relation.ACTED, Relation.AWAITING_VERIFICATION}),
    Role.CITIZEN: frozenset({Relation.REPORTED}),
}


@dataclass(frozen=True)
class CaseFacts:
    """What the rule needs to know about one case."""

    status: CaseStatus
    merged: bool
    reporter_ids: frozenset[int] = frozenset()  # the case's reporter and every report's
    actor_ids: frozenset[int] = frozenset()  # users with a step in its history
    department_ids: frozenset[int] = frozenset()  # departments that hold or held it


def sees_every_case(principal: Principal) -> bool:
    return principal.role in SEES_EVERY_CASE


def relations_seen(principal: Principal) -> frozenset[Relation]:
    """The relations through which the principal sees a case (empty for see-all roles, and for
    a department member without a department)."""
    if principal.role is Role.DEPARTMENT and principal.department_id is None:
        return frozenset()
    return SEEN_THROUGH.get(principal.role, frozenset())


def relations_of(principal: Principal, facts: CaseFacts) -> frozenset[Relation]:
    """Every relation the principal has to the case, whatever their role."""
    found = {
        Relation.REPORTED: principal.user_id in facts.reporter_ids,
        Relation.ACTED: principal.user_id in facts.actor_ids,
        Relation.DEPARTMENT_HELD: principal.department_id is not None
        and principal.department_id in facts.department_ids,
        Relation.AWAITING_VERIFICATION: facts.status is CaseStatus.HANDLED and not facts.merged,
    }
    return frozenset(relation for relation, holds in found.items() if holds)


def may_see(principal: Principal, facts: CaseFacts, *, survivor: CaseFacts | None = None) -> bool:
    """Whether the principal may see the case; `survivor` is the case it is merged into."""
    if sees_every_case(principal):
        return True
    seen_through = relations_seen(principal)
    if relations_of(principal, facts) & seen_through:
        return True
    return survivor is not None and bool(relations_of(principal, survivor) & seen_through)
