"""Report photos: size and type checks, GPS from EXIF, a public copy without metadata, storage.

The type is decided by Pillow from the content, never from the file name or the client's
content type. Files are named by a fresh uuid4 (the storage key), never by anything the client
sent: the original goes to `<media_dir>/private/` (staff only: EXIF may reveal more than the
place), a re-encoded copy without any metadata to `<media_dir>/public/`.
"""

from __future__ import annotations

import hashlib
import io
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image, ImageOps
from starlette.datastructures import UploadFile

from citygrid.errors import InvalidInput, NotFound
from citygrid.settings import Settings
from events.models import CasePhoto

# Pillow format → (content type, file extension). Only these parsers are ever tried.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
EXTENSIONS = {content_type: extension for content_type, extension in FORMATS.values()}
READ_CHUNK_BYTES = 256 * 1024
PUBLIC_QUALITY = 85
GPS_IFD = 0x8825
GPS_LATITUDE_REF, GPS_LATITUDE, GPS_LONGITUDE_REF, GPS_LONGITUDE = 1, 2, 3, 4
FIELD = "photos"


@dataclass(frozen=True)
class Photo:
    """A checked upload: its bytes, its format, and the GPS position in its EXIF (WGS-84)."""

    content: bytes
    image_format: str
    gps: tuple[float, float] | None  # lon, lat

    @property
    def content_type(self) -> str:
        return FORMATS[self.image_format][0]


@dataclass(frozen=True)
class StoredPhoto:
    storage_key: uuid.UUID
    content_type: str
    size_bytes: int
    sha256: str
    paths: tuple[Path, ...]


def read_limited(file: BinaryIO, *, label: str, max_bytes: int) -> bytes:
    """The upload's bytes; InvalidInput as soon as it grows past `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    while chunk := file.read(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            limit_mb = max_bytes / (1024 * 1024)
            raise InvalidInput(f"{label} is larger than {limit_mb:g} MB", field=FIELD)
        chunks.append(chunk)
    return b"".join(chunks)


def checked_photo(content: bytes, *, label: str) -> Photo:
    """The content as a Photo; InvalidInput unless it is a whole JPEG, PNG or WebP image."""
    try:
        with Image.open(io.BytesIO(content), formats=list(FORMATS)) as image:
            image_format = str(image.format)
            image.verify()
        with Image.open(io.BytesIO(content), formats=list(FORMATS)) as image:
            gps = gps_of(image.getexif())
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise InvalidInput(
            f"{label} is not a JPEG, PNG or WebP image (judged from its content)", field=FIELD
        ) from error
    return Photo(content=content, image_format=image_format, gps=gps)


def gps_of(exif: Image.Exif) -> tuple[float, float] | None:
    """(lon, lat) from the EXIF GPS IFD, or None when absent or unusable. EXIF GPS is WGS-84."""
    gps = exif.get_ifd(GPS_IFD)
    try:
        lat = _degrees(gps[GPS_LATITUDE], gps.get(GPS_LATITUDE_REF), negative="S")
        lon = _degrees(gps[GPS_LONGITUDE], gps.get(GPS_LONGITUDE_REF), negative="W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    on_globe = math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90
    # Phones without a fix often write 0/0: that is "no position", not the Gulf of Guinea.
    if not on_globe or (lon == 0 and lat == 0):
        return None
    return lon, lat


def _degrees(dms: Any, ref: Any, *, negative: str) -> float:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals and an N/S/E/W reference."""
    degrees, minutes, seconds = (float(part) for part in dms)
    value = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -value if str(ref or "").strip().upper() == negative else value


def public_copy(photo: Photo) -> bytes:
    """The photo re-encoded upright, in its own format, with no EXIF, XMP, ICC or text chunks."""
    with Image.open(io.BytesIO(photo.content), formats=[photo.image_format]) as image:
        upright = ImageOps.exif_transpose(image)  # the orientation tag goes with the EXIF
        if upright.mode in ("P", "PA"):
            upright = upright.convert("RGBA")
        # A new image carries no `info`: nothing of the original's metadata can be saved with it.
        clean = Image.new(upright.mode, upright.size)
        clean.paste(upright)
    output = io.BytesIO()
    options = {} if photo.image_format == "PNG" else {"quality": PUBLIC_QUALITY}
    clean.save(output, format=photo.image_format, **options)
    return output.getvalue()


def photo_path(
    media_dir: Path, storage_key: uuid.UUID, content_type: str, *, original: bool
) -> Path:
    """Where a stored photo lives: derived from the storage key and type only."""
    folder = "private" if original else "public"
    return media_dir / folder / f"{storage_key}.{EXTENSIONS[content_type]}"


def stored_file(photo: CasePhoto, media_dir: Path, *, original: bool) -> Path:
    """The file of a photo (its original or its public copy); NotFound when it is missing."""
    path = photo_path(media_dir, photo.storage_key, photo.content_type, original=original)
    if not path.is_file():
        raise NotFound(f"the file of photo {photo.id} is missing from storage", field="photo_id")
    return path


def store(photo: Photo, media_dir: Path) -> StoredPhoto:
    """Write the original (private) and the public copy under a fresh uuid4."""
    key = uuid.uuid4()
    original = photo_path(media_dir, key, photo.content_type, original=True)
    public = photo_path(media_dir, key, photo.content_type, original=False)
    for path, content in ((original, photo.content), (public, public_copy(photo))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return StoredPhoto(
        storage_key=key,
        content_type=photo.content_type,
        size_bytes=len(photo.content),
        sha256=hashlib.sha256(photo.content).hexdigest(),
        paths=(original, public),
    )


def discard(stored: list[StoredPhoto]) -> None:
    """Remove files whose report was refused or was a retry of one already stored."""
    for photo in stored:
        for path in photo.paths:
            path.unlink(missing_ok=True)


def checked_uploads(uploads: Sequence[UploadFile], settings: Settings) -> list[Photo]:
    """The uploads read (within the size limit) and checked to be images."""
    if len(uploads) > settings.photos_per_report_max:
        raise InvalidInput(
            f"at most {settings.photos_per_report_max} photos per report, got {len(uploads)}",
            field="photos",
        )
    checked = []
    for position, upload in enumerate(uploads):
        label = f"photo {position + 1} ({upload.filename or 'unnamed'})"
        content = read_limited(upload.file, label=label, max_bytes=settings.photo_max_bytes)
        checked.append(checked_photo(content, label=label))
    return checked


def store_all(checked: list[Photo], media_dir: Path) -> list[StoredPhoto]:
    return [store(photo, media_dir) for photo in checked]
