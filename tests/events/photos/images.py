"""Small test images built with Pillow, optionally with a GPS position in their EXIF."""

from __future__ import annotations

import io

from PIL import Image, TiffImagePlugin

EXIF_MAKE = 0x010F
EXIF_GPS_IFD = 0x8825
CAMERA = "citygrid-test-camera"


def _rational_dms(degrees: float) -> tuple[TiffImagePlugin.IFDRational, ...]:
    """Degrees as EXIF's (degrees, minutes, seconds) rationals, seconds to 1/10000."""
    whole = int(degrees)
    minutes = int((degrees - whole) * 60)
    seconds = (degrees - whole - minutes / 60) * 3600
    return (
        TiffImagePlugin.IFDRational(whole, 1),
        TiffImagePlugin.IFDRational(minutes, 1),
        TiffImagePlugin.IFDRational(round(seconds * 10_000), 10_000),
    )


def exif_with_gps(lon: float, lat: float) -> Image.Exif:
    exif = Image.Exif()
    exif[EXIF_MAKE] = CAMERA
    exif[EXIF_GPS_IFD] = {
        1: "N" if lat >= 0 else "S",
        2: _rational_dms(abs(lat)),
        3: "E" if lon >= 0 else "W",
        4: _rational_dms(abs(lon)),
    }
    return exif


def image_bytes(
    image_format: str = "JPEG",
    *,
    gps: tuple[float, float] | None = None,
    size: tuple[int, int] = (48, 32),
) -> bytes:
    """A small image in JPEG, PNG or WEBP; with a camera make and (lon, lat) GPS when given."""
    mode = "RGBA" if image_format == "PNG" else "RGB"
    image = Image.new(mode, size, (200, 60, 40, 255)[: len(mode)])
    output = io.BytesIO()
    options = {"exif": exif_with_gps(*gps).tobytes()} if gps else {}
    image.save(output, format=image_format, **options)
    return output.getvalue()


def jpeg_with_gps(lon: float, lat: float) -> bytes:
    return image_bytes("JPEG", gps=(lon, lat))


def opened(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image
