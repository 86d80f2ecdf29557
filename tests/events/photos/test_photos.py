"""Report photos through HTTP: type from content, size, EXIF GPS, stripped public copies, access."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image
from sqlalchemy.orm import Session

from citygrid.accounts.models import User
from citygrid.accounts.roles import Role
from events.models import Category
from events.photos import service as photos
from tests.events.intake.support import (
    Configure,
    headers_for,
    report_body,
)
from tests.events.photos.images import (
    CAMERA,
    EXIF_GPS_IFD,
    EXIF_MAKE,
    image_bytes,
    jpeg_with_gps,
    opened,
)
from tests.events.seed import add_user
from tests.grid.places import CELL_NW, CELL_SW, centre_of, east_of_block

PhotoFile = tuple[str, tuple[str, bytes, str]]


def photo_file(
    content: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"
) -> PhotoFile:
    return ("photos", (name, content, content_type))


@pytest.fixture
def post_form(client: TestClient, configure: Configure, inspector: User) -> Callable[..., Response]:
    """POST /api/reports as a multipart form with photos, as the inspector."""

    def send(fields: dict[str, Any], files: list[PhotoFile]) -> Response:
        form = {name: str(value) for name, value in fields.items() if value is not None}
        response: Response = client.post(
            "/api/reports", data=form, files=files, headers=headers_for(inspector)
        )
        return response

    return send


def stored_files(media_dir: Path) -> list[Path]:
    return sorted(path for path in media_dir.rglob("*") if path.is_file())


def test_a_form_report_stores_each_photo_privately_and_publicly(
    post_form: Callable[..., Response], category: Category, configure: Configure
) -> None:
    media_dir = configure().media_dir
    files = [
        photo_file(jpeg_with_gps(*centre_of(CELL_NW))),
        photo_file(image_bytes("PNG"), "p.png"),
    ]
    response = post_form(report_body(category, centre_of(CELL_NW)), files)
    assert response.status_code == 201, response.text
    assert len(response.json()["photo_ids"]) == 2
    names = [(path.parent.name, path.suffix) for path in stored_files(media_dir)]
    assert sorted(names) == [
        ("private", ".jpg"),
        ("private", ".png"),
        ("public", ".jpg"),
        ("public", ".png"),
    ]


def test_the_public_copy_has_no_exif_and_the_original_keeps_it(
    client: TestClient,
    post_form: Callable[..., Response],
    session: Session,
    category: Category,
    inspector: User,
) -> None:
    lon, lat = centre_of(CELL_NW)
    answer = post_form(report_body(category, (lon, lat)), [photo_file(jpeg_with_gps(lon, lat))])
    photo_id = answer.json()["photo_ids"][0]
    reporter = headers_for(inspector)  # the reporter: others may not see the case's photos
    public = client.get(f"/api/photos/{photo_id}", headers=reporter)
    assert public.status_code == 200
    assert public.headers["content-type"] == "image/jpeg"
    public_image = opened(public.content)
    assert dict(public_image.getexif()) == {}
    assert public_image.getexif().get_ifd(EXIF_GPS_IFD) == {}
    assert "exif" not in public_image.info
    dispatcher = headers_for(add_user(session, Role.DISPATCHER))
    original = client.get(f"/api/photos/{photo_id}/original", headers=dispatcher)
    assert original.status_code == 200
    exif = opened(original.content).getexif()
    assert exif[EXIF_MAKE] == CAMERA
    assert photos.gps_of(exif) == pytest.approx((lon, lat), abs=1e-6)


def test_a_citizen_may_not_fetch_the_original(
    client: TestClient, post_form: Callable[..., Response], session: Session, category: Category
) -> None:
    answer = post_form(report_body(category, centre_of(CELL_NW)), [photo_file(image_bytes())])
    photo_id = answer.json()["photo_ids"][0]
    citizen = headers_for(add_user(session, Role.CITIZEN))
    refused = client.get(f"/api/photos/{photo_id}/original", headers=citizen)
    assert refused.status_code == 403
    assert client.get(f"/api/photos/{photo_id}").status_code == 401


def test_an_unknown_photo_is_404(client: TestClient, configure: Configure, inspector: User) -> None:
    response = client.get("/api/photos/987654", headers=headers_for(inspector))
    assert response.status_code == 404
    assert response.json()["field"] == "photo_id"


def test_without_lon_lat_the_first_photos_gps_places_the_report(
    post_form: Callable[..., Response], category: Category
) -> None:
    files = [photo_file(jpeg_with_gps(*centre_of(CELL_SW))), photo_file(image_bytes())]
    # The datum applies to lon/lat only: EXIF GPS is always WGS-84.
    response = post_form(report_body(category, None, datum="GCJ-02"), files)
    assert response.status_code == 201, response.text
    assert response.json()["cell"]["code"] == CELL_SW.code


def test_without_lon_lat_or_photo_gps_the_report_is_422(
    post_form: Callable[..., Response], category: Category
) -> None:
    response = post_form(report_body(category, None), [photo_file(image_bytes())])
    assert response.status_code == 422
    assert response.json()["field"] == "lon/lat"


@pytest.mark.parametrize(
    ("image_format", "content_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")],
)
def test_jpeg_png_and_webp_are_accepted_whatever_their_name(
    client: TestClient,
    post_form: Callable[..., Response],
    category: Category,
    inspector: User,
    image_format: str,
    content_type: str,
) -> None:
    upload = photo_file(image_bytes(image_format), "upload.bin", "application/octet-stream")
    answer = post_form(report_body(category, centre_of(CELL_NW)), [upload])
    assert answer.status_code == 201, answer.text
    served = client.get(
        f"/api/photos/{answer.json()['photo_ids'][0]}", headers=headers_for(inspector)
    )
    assert served.headers["content-type"] == content_type
    assert opened(served.content).format == image_format


def gif_bytes() -> bytes:
    output = io.BytesIO()
    Image.new("P", (8, 8)).save(output, format="GIF")
    return output.getvalue()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is a text file, not a picture", "not a JPEG, PNG or WebP image"),
        (gif_bytes(), "not a JPEG, PNG or WebP image"),
        (image_bytes("JPEG")[:40], "not a JPEG, PNG or WebP image"),
        (b"\xff\xd8\xff" + bytes(5000), "larger than"),
    ],
    ids=["text", "gif", "truncated-jpeg", "too-big"],
)
def test_a_bad_photo_is_422_naming_photos(
    post_form: Callable[..., Response],
    category: Category,
    configure: Configure,
    content: bytes,
    reason: str,
) -> None:
    media_dir = configure(photo_max_bytes=4000).media_dir
    files = [photo_file(image_bytes()), photo_file(content, "holiday.jpg")]
    response = post_form(report_body(category, centre_of(CELL_NW)), files)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "photos"
    assert reason in response.json()["detail"]
    assert "photo 2 (holiday.jpg)" in response.json()["detail"]
    assert stored_files(media_dir) == []


def test_more_photos_than_allowed_is_422(
    post_form: Callable[..., Response], category: Category
) -> None:
    files = [photo_file(image_bytes()) for _ in range(7)]
    response = post_form(report_body(category, centre_of(CELL_NW)), files)
    assert response.status_code == 422
    assert response.json()["field"] == "photos"
    assert "at most 6 photos" in response.json()["detail"]


def test_a_refused_report_leaves_no_files(
    post_form: Callable[..., Response], category: Category, configure: Configure
) -> None:
    media_dir = configure().media_dir
    response = post_form(report_body(category, east_of_block(500)), [photo_file(image_bytes())])
    assert response.status_code == 422
    assert stored_files(media_dir) == []


def test_a_retry_with_photos_returns_the_original_photos_and_stores_nothing_more(
    post_form: Callable[..., Response], category: Category, configure: Configure
) -> None:
    media_dir = configure().media_dir
    body = report_body(category, centre_of(CELL_NW))
    first = post_form(body, [photo_file(image_bytes())])
    again = post_form(body, [photo_file(image_bytes())])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["photo_ids"] == first.json()["photo_ids"]
    assert len(stored_files(media_dir)) == 2


def test_file_names_come_from_uuids_not_from_the_client(
    post_form: Callable[..., Response], category: Category, configure: Configure
) -> None:
    media_dir = configure().media_dir
    upload = photo_file(image_bytes(), "../../../etc/evil.jpg")
    assert post_form(report_body(category, centre_of(CELL_NW)), [upload]).status_code == 201
    for path in stored_files(media_dir):
        assert path.parent.parent == media_dir
        assert len(path.stem) == 36 and "evil" not in path.name


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(116.3995, 39.9005), (-73.9857, 40.7484), (151.2153, -33.8568), (-58.3816, -34.6037)],
)
def test_exif_gps_reads_back_with_its_hemisphere(lon: float, lat: float) -> None:
    exif = opened(jpeg_with_gps(lon, lat)).getexif()
    assert photos.gps_of(exif) == pytest.approx((lon, lat), abs=1e-6)


def test_exif_without_gps_or_at_zero_zero_gives_no_position() -> None:
    assert photos.gps_of(opened(image_bytes()).getexif()) is None
    assert photos.gps_of(opened(jpeg_with_gps(0.0, 0.0)).getexif()) is None
