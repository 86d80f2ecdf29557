"""Component identifiers (部件标识码) and how they relate to component categories (pure).

An identifier has 16 or 17 digits: the 6-digit administrative division code (GB/T 2260), the
component's major category code (2 digits), its minor category code (2 digits under CJ/T 214 /
GB/T 30428.2, 3 under GB/T 47678.5) and a 6-digit sequence within the division and category.

The category codes of the taxonomy are major + minor: '01' is a major category (公用设施), '0101'
(2013) or '01001' (2026) a minor one. So digits 7 to 10 (or 11) of an identifier are exactly the
code of its minor category: 110101 01 01 000001 is a 上水井盖 (0101) in Dongcheng (110101).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citygrid.errors import InvalidInput

DIVISION_DIGITS = 6
MAJOR_DIGITS = 2
SEQUENCE_DIGITS = 6
MINOR_DIGITS_BY_LENGTH = {16: 2, 17: 3}  # 2013 standard (2-digit minor), 2026 standard (3-digit)
# The first two digits of every GB/T 2260 code: provinces, Taiwan, Hong Kong and Macao.
PROVINCE_PREFIXES = frozenset(
    str(number)
    for number in (
        *range(11, 16),  # 11 Beijing … 15 Inner Mongolia
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,  # Taiwan
        81,  # Hong Kong
        82,  # Macao
    )
)
_DIGITS = re.compile(r"[0-9]+")

# The same rules as `code_problem` as one regular expression, for PostgreSQL's `~` (its advanced
# regular expressions understand the lookaheads) and Python's `re` alike: an import checks a
# million identifiers in one scan and asks `code_problem` why only about the few that fail.
VALID_CODE_PATTERN = (
    f"^(?:{'|'.join(sorted(PROVINCE_PREFIXES))})[0-9]{{4}}"
    "(?!00)[0-9]{2}"
    "(?:(?!00)[0-9]{2}|(?!000)[0-9]{3})"
    "(?!000000)[0-9]{6}$"
)


@dataclass(frozen=True)
class ComponentCode:
    """A component identifier taken apart."""

    division: str  # 6-digit administrative division code, e.g. 110101
    major: str  # 2-digit major category code, e.g. 01
    minor: str  # 2- or 3-digit minor code within the major, e.g. 01 or 001
    sequence: str  # 6-digit sequence number, e.g. 000001

    @property
    def category_code(self) -> str:
        """The taxonomy code of the component's minor category: major + minor."""
        return self.major + self.minor

    def __str__(self) -> str:
        return f"{self.division}{self.major}{self.minor}{self.sequence}"


def category_part(code: str) -> str:
    """The category digits of an identifier (major + minor), however long the identifier is."""
    return code[DIVISION_DIGITS:-SEQUENCE_DIGITS]


def code_problem(code: str) -> str | None:
    """Why `code` is not a component identifier, naming the part at fault; None when it is one."""
    if not _DIGITS.fullmatch(code):
        return f"identifier {code!r} must consist of digits only"
    minor_digits = MINOR_DIGITS_BY_LENGTH.get(len(code))
    if minor_digits is None:
        return (
            f"identifier {code!r} has {len(code)} digits; it must have 16 (division 6 + major 2 "
            "+ minor 2 + sequence 6) or 17 (with a 3-digit minor code)"
        )
    parts = split_code(code, minor_digits)
    if parts.division[:2] not in PROVINCE_PREFIXES:
        return (
            f"identifier {code}: division code {parts.division} does not start with a "
            "GB/T 2260 province code"
        )
    if set(parts.major) == {"0"}:
        return f"identifier {code}: major category code {parts.major} must not be zero"
    if set(parts.minor) == {"0"}:
        return f"identifier {code}: minor category code {parts.minor} must not be zero"
    if set(parts.sequence) == {"0"}:
        return f"identifier {code}: sequence number {parts.sequence} must not be zero"
    return None


def split_code(code: str, minor_digits: int) -> ComponentCode:
    """The four parts of a code of the right length (no checks)."""
    minor_start = DIVISION_DIGITS + MAJOR_DIGITS
    sequence_start = minor_start + minor_digits
    return ComponentCode(
        division=code[:DIVISION_DIGITS],
        major=code[DIVISION_DIGITS:minor_start],
        minor=code[minor_start:sequence_start],
        sequence=code[sequence_start:],
    )


def parse_code(code: str) -> ComponentCode:
    """The parts of a valid identifier; InvalidInput (field `code`) saying which part is wrong."""
    problem = code_problem(code)
    if problem is not None:
        raise InvalidInput(problem, field="code")
    return split_code(code, MINOR_DIGITS_BY_LENGTH[len(code)])


def category_problem(code: str, category_code: str) -> str | None:
    """Why identifier `code` cannot belong to the category coded `category_code`, or None."""
    if len(category_code) == MAJOR_DIGITS:
        return f"category {category_code} is a major category; give its minor category"
    part = category_part(code)
    if part == category_code:
        return None
    if len(part) != len(category_code):
        return (
            f"identifier {code} has {len(code)} digits, so its category code has {len(part)}, "
            f"but category {category_code} has {len(category_code)}"
        )
    return (
        f"identifier {code} says category {part} (major {part[:2]}, minor {part[2:]}), "
        f"but its category is {category_code}"
    )
