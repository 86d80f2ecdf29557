"""`/api/photos/{id}`: the public copy of a photo, and the original (EXIF included) for staff.

A photo is served only to those who may see its case (events.visibility); to anyone else it
does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from citygrid.accounts.auth import Allow, RoleCheckedRoute
from citygrid.accounts.roles import STAFF_ROLES, Principal, Role
from citygrid.api_types import IMAGE_TYPES, BigRowId, answers
from citygrid.db import SessionDep
from citygrid.errors import NotFound
from citygrid.settings import SettingsDep
from events.cases import service as case_service
from events.models import Case, CasePhoto
from events.photos import service as photos

router = APIRouter(tags=["intake"], route_class=RoleCheckedRoute)


def visible_photo(session: Session, photo_id: int, principal: Principal) -> CasePhoto:
    """The photo, when the principal may see its case; NotFound otherwise, worded as for a
    missing photo."""
    photo = session.get(CasePhoto, photo_id)
    case = session.get(Case, photo.case_id) if photo is not None else None
    if photo is None or case is None or not case_service.may_see_case(session, case, principal):
        raise NotFound(f"no photo {photo_id}", field="photo_id")
    return photo


def photo_response(photo: CasePhoto, path: Path) -> FileResponse:
    """The photo's file, inline but named by id: a browser shows it and never guesses another
    type or file name."""
    return FileResponse(
        path,
        media_type=photo.content_type,
        content_disposition_type="inline",
        filename=f"photo-{photo.id}{path.suffix}",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@router.get(
    "/api/photos/{photo_id}",
    **answers(*IMAGE_TYPES, description="The photo, re-encoded without EXIF"),
)
def get_photo(
    photo_id: BigRowId,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*Role))],
) -> FileResponse:
    """The public copy of a photo (re-encoded, no EXIF), of a case the caller may see."""
    photo = visible_photo(session, photo_id, principal)
    return photo_response(photo, photos.stored_file(photo, settings.media_dir, original=False))


@router.get(
    "/api/photos/{photo_id}/original", **answers(*IMAGE_TYPES, description="The photo as uploaded")
)
def get_photo_original(
    photo_id: BigRowId,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(Allow(*STAFF_ROLES))],
) -> FileResponse:
    """The photo as uploaded, EXIF included (staff only), of a case the caller may see."""
    photo = visible_photo(session, photo_id, principal)
    return photo_response(photo, photos.stored_file(photo, settings.media_dir, original=True))
