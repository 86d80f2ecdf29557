"""The inspector tests' world: a case handled by its department, waiting for verification."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from events.lifecycle import CaseStatus
from events.models import Case, CasePhoto, CaseTransition, Category
from tests.events.seed import add_case, add_department


def handled_case(session: Session, kind: Category, *, feedback: str, photos: int = 0) -> Case:
    """A case its department handled two hours ago, with `photos` attached to the handling."""
    department = add_department(session, code=f"T-{uuid.uuid4().hex[:5]}")
    case = add_case(session, category=kind, status=CaseStatus.HANDLED, department=department)
    case.handled_at = datetime.now(UTC) - timedelta(hours=2)
    handling = CaseTransition(
        case_id=case.id,
        action="handle",
        from_status="accepted",
        to_status="handled",
        reason=feedback,
        details={},
        at=case.handled_at,
    )
    session.add(handling)
    session.flush()
    for _ in range(photos):
        session.add(
            CasePhoto(
                case_id=case.id,
                transition_id=handling.id,
                storage_key=uuid.uuid4(),
                content_type="image/jpeg",
                size_bytes=1,
                sha256="0" * 64,
            )
        )
    session.flush()
    return case
