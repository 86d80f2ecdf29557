"""Text encodings of imported files: naming the encoding a file seems to be in, and the refusal
of a file whose text is not in the encoding it is read with (pure: no database, no web).

GDAL hands pyogrio the bytes of a text field, and pyogrio decodes them as UTF-8 unless the file
says otherwise (a Shapefile's .cpg) or the caller names an encoding. A GeoJSON saved in GBK by a
Chinese GIS desktop then fails deep inside the reader with a UnicodeDecodeError. The reader
catches it, reads the file once more as Latin-1 (every byte is a character, so nothing can fail
and the original bytes are recovered with `.encode("latin-1")`), and this module finds which
features' text does not decode, names the encoding it seems to be in, and words the refusal:

| what the file holds                                | refusal                                 |
|----------------------------------------------------|-----------------------------------------|
| every non-ASCII text in another encoding            | InvalidInput naming the encoding, the   |
|                                                    | first feature, --encoding and iconv     |
| some features in another encoding, the rest UTF-8  | ImportRejected listing those features   |
|                                                    | (--encoding would garble the others)    |
| a Shapefile without .cpg whose text looks Chinese  | InvalidInput: GDAL would have read it   |
|                                                    | as Latin-1 and stored mojibake          |
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from charset_normalizer import from_bytes

from citygrid.errors import ImportRejected, InvalidInput

# Reading as Latin-1 never fails and keeps every byte: the bytes are the text's .encode("latin-1").
LOSSLESS = "ISO-8859-1"  # the spelling both Python and GDAL (iconv) know
# What GDAL says a Shapefile without .cpg (and without a code page in the .dbf) is in.
GDAL_FALLBACK_ENCODING = "ISO-8859-1"
SAMPLE_BYTES = 64 * 1024  # enough bytes to name an encoding
MAX_NAMED_FEATURES = 20  # a mixed file lists at most this many features
# Tried strictly, in this order, before charset-normalizer: (Python codec, name users know).
CANDIDATES = (("utf-8", "UTF-8"), ("gbk", "GBK"), ("big5", "Big5"), ("gb18030", "GB18030"))


def check_encoding(encoding: str | None) -> str | None:
    """The encoding name as given, or None; InvalidInput (field encoding) for an unknown name."""
    if encoding is None or not encoding.strip():
        return None
    try:
        codecs.lookup(encoding.strip())
    except LookupError as error:
        raise InvalidInput(
            f"unknown encoding {encoding!r}; use e.g. UTF-8, GBK, GB18030 or Big5", field="encoding"
        ) from error
    return encoding.strip()


def guess_encoding(data: bytes) -> str:
    """The encoding `data` seems to be in, as a user would name it (UTF-8, GBK, Big5, …).

    Chinese encodings are tried first and strictly (a file here is far more likely GBK than
    Korean, which charset-normalizer often prefers on short Chinese texts); charset-normalizer
    names anything else.
    """
    for codec, name in CANDIDATES:
        try:
            data.decode(codec)
        except UnicodeDecodeError:
            continue
        return name
    best = from_bytes(data[:SAMPLE_BYTES]).best()
    if best is None:
        return "an unknown encoding"
    return best.encoding.upper().replace("_", "-")


@dataclass(frozen=True)
class BadText:
    """One feature's text field that does not decode."""

    index: int
    field: str
    raw: bytes


def undecodable(
    columns: Mapping[str, Sequence[Any]], encoding: str
) -> tuple[list[BadText], set[int], bool]:
    """The text values (read as Latin-1) that are not valid `encoding`, the rows holding any
    non-ASCII text, and whether a field name itself does not decode."""
    bad: list[BadText] = []
    non_ascii_rows: set[int] = set()
    for name, values in columns.items():
        for row, value in enumerate(values):
            if not isinstance(value, str) or value.isascii():
                continue
            non_ascii_rows.add(row)
            raw = value.encode(LOSSLESS)
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                bad.append(BadText(row, _decoded_name(name), raw))
    bad_name = any(not _decodes(name.encode(LOSSLESS), encoding) for name in columns)
    return bad, non_ascii_rows, bad_name


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _decoded_name(name: str) -> str:
    """A field name read as Latin-1, shown in the encoding it seems to be in."""
    raw = name.encode(LOSSLESS)
    if name.isascii():
        return name
    try:
        return raw.decode(guess_encoding(raw).lower())
    except (LookupError, UnicodeDecodeError):
        return raw.decode("utf-8", errors="replace")


def how_to_import(file_name: str, guessed: str) -> str:
    """The two ways to import a file in `guessed` encoding."""
    if guessed == "UTF-8":
        return "Import it without --encoding (API: leave the form field encoding empty)"
    return (
        f"Import it with --encoding {guessed} (API: the form field encoding={guessed}), or convert "
        f"it to UTF-8 first (iconv -f {guessed} -t UTF-8 {file_name}, or save it as UTF-8 in "
        "the GIS)"
    )


def encoding_refusal(
    file_name: str,
    columns: Mapping[str, Sequence[Any]],
    *,
    read_as: str | None,
    codes: Sequence[str | None],
) -> InvalidInput | ImportRejected:
    """Why a file whose text did not decode as `read_as` (None: UTF-8) is refused.

    `columns` are the file's text columns read as Latin-1 (their names too); `codes` the
    features' codes (or None), to name features as the other import problems do.
    """
    expected = read_as or "UTF-8"
    bad, non_ascii_rows, bad_name = undecodable(columns, expected)
    sample = b" ".join(found.raw for found in bad)
    if not sample:
        sample = b" ".join(name.encode(LOSSLESS) for name in columns if not name.isascii())
    guessed = guess_encoding(sample) if sample else "an unknown encoding"
    not_expected = f"{file_name} is not {expected} text: it seems to be {guessed}"
    bad_rows = sorted({found.index for found in bad})
    if bad_name or set(bad_rows) == non_ascii_rows:
        first = _first_feature(bad, codes) if bad else "its field names"
        return InvalidInput(
            f"{not_expected} (first seen in {first}); nothing was written. "
            + how_to_import(file_name, guessed),
            field="encoding",
        )
    problems: list[dict[str, Any]] = []
    for row in bad_rows[:MAX_NAMED_FEATURES]:
        fields = ", ".join(sorted({found.field for found in bad if found.index == row}))
        problems.append(
            {
                "index": row,
                "code": codes[row] if row < len(codes) else None,
                "reason": f"{fields} is not {expected} text (it seems to be {guessed}) while "
                f"the other features' text is {expected}",
            }
        )
    more = len(bad_rows) - len(problems)
    listed = f" (the first {len(problems)} listed)" if more > 0 else ""
    return ImportRejected(
        f"{len(bad_rows)} of {len(codes)} features of {file_name} have text that is not "
        f"{expected} (it seems to be {guessed}){listed}; nothing was written. Re-enter their "
        f"text in the GIS and save the file as {expected}: reading the whole file as {guessed} "
        "would garble the other features' text",
        problems=problems,
    )


def _first_feature(bad: Sequence[BadText], codes: Sequence[str | None]) -> str:
    first = bad[0]
    code = codes[first.index] if first.index < len(codes) else None
    named = f"feature {first.index}" + (f" (code {code})" if code else "")
    return f"{named}, field {first.field}"


def mojibake_refusal(file_name: str, columns: Mapping[str, Sequence[Any]]) -> InvalidInput | None:
    """A Shapefile that does not say its encoding is read by GDAL as Latin-1, silently. Refuse it
    when its text reads as UTF-8 or as a Chinese encoding; None when it is plain Latin-1 or
    ASCII."""
    raw = b" ".join(
        value.encode(LOSSLESS)
        for values in columns.values()
        for value in values
        if isinstance(value, str) and not value.isascii()
    )
    if not raw:
        return None
    guessed = guess_encoding(raw[:SAMPLE_BYTES])
    if guessed not in {"UTF-8", "GBK", "GB18030", "Big5"}:
        return None
    return InvalidInput(
        f"{file_name} does not say which encoding its text is in (the Shapefile has no .cpg "
        f"file) and its text seems to be {guessed}; nothing was written. "
        + how_to_import(file_name, guessed),
        field="encoding",
    )
