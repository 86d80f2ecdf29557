"""Chinese addresses in one normal form, and their parts (pure: no database, no web).

A hotline operator types what the caller says: "北京市東城區东四北大街５号院３栋二单元附近". The
gazetteer holds "东四北大街5号院3号楼". Both are brought to the same normal form before the
trigram matcher compares them:

| step                       | example                                    |
|----------------------------|--------------------------------------------|
| full-width → half-width    | ５号 → 5号, （ → (  (Unicode NFKC)            |
| traditional → simplified   | 東城區 → 东城区 (OpenCC t2s)                 |
| punctuation and spaces out | 东四北大街, 5号 → 东四北大街5号              |
| prefixes out               | 中国 北京市 东城区 东四街道 …社区 → (nothing) |
| noise words out            | 附近, 对面, 门口, 旁边, 东侧 …               |
| house numbers as digits    | 五号 → 5号, 十五号 → 15号, 一百零五号 → 105号 |
| alley numbers as Chinese   | 东四3条 → 东四三条 (the road's name)           |
| one spelling per part      | 号院 → 号; 栋/幢/座/#/号楼 → 号楼; 门 → 单元  |
| parts in one order         | road, number, building, unit               |

Floors and rooms (4层, 401室) are parsed but left out of the normal form: they do not move the
point, and no gazetteer lists them. Typos (a wrong homophone) are left to the trigram
similarity; nothing here guesses at them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from opencc import OpenCC

CHINESE_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
CHINESE_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CHINESE_UNITS = {"十": 10, "百": 100, "千": 1000}
NUMERAL = "[零〇一二两三四五六七八九十百千]+"
# What a house number, a building, a unit, a floor or a room is followed by.
PART_SUFFIX = "号|栋|幢|座|#|单元|门|层|楼|室|户|房"
# Beijing's districts (and the old names still said on the phone); a ticket names the city's.
DISTRICTS = [
    "东城区",
    "西城区",
    "朝阳区",
    "海淀区",
    "丰台区",
    "石景山区",
    "门头沟区",
    "房山区",
    "通州区",
    "顺义区",
    "昌平区",
    "大兴区",
    "怀柔区",
    "平谷区",
    "密云区",
    "延庆区",
    "崇文区",
    "宣武区",
    "东城",
    "西城",
]
PREFIX = re.compile(
    rf"^(?:中国|中华人民共和国)?(?:北京市|北京(?={'|'.join(DISTRICTS)}))?(?:市辖区)?"
    rf"(?:{'|'.join(DISTRICTS)})?"
    r"(?:[\u4e00-\u9fff]{2,6}?街道(?:办事处)?)?(?:[\u4e00-\u9fff]{2,8}?社区(?:居委会)?)?"
)
# Said around an address, never part of one. Longest first, so 斜对面 goes before 对面.
NOISE_WORDS = sorted(
    [
        "附近",
        "对面",
        "斜对面",
        "门口",
        "门前",
        "旁边",
        "边上",
        "周边",
        "一带",
        "那边",
        "这边",
        "里面",
        "院内",
        "拐角",
        "路口处",
        "东侧",
        "西侧",
        "南侧",
        "北侧",
        "东边",
        "西边",
        "南边",
        "北边",
        "往东",
        "往西",
        "往南",
        "往北",
        "左右",
        "大概",
        "好像",
        "据说",
        "交叉口",
        "十字路口",
        "不远处",
        "后面",
        "前面",
    ],
    key=len,
    reverse=True,
)
NOISE = re.compile("|".join(re.escape(word) for word in NOISE_WORDS))
LEADING_WORDS = re.compile(r"^(?:地址是|地址|位于|就在|在)")
KEEP = re.compile(r"[^0-9a-z\u3400-\u9fff#\-]")  # what stays: digits, letters, CJK, # and -
NUMBER = re.compile(r"([甲乙丙丁]?\d+(?:-\d+)?)号(?:院)?(?!楼)")
BUILDING = re.compile(r"(\d+|[a-z])(?:号楼|栋|幢|座|#楼|#|号?楼(?=\d+单元))")
UNIT = re.compile(r"(\d+)(?:单元|门)")
FLOOR = re.compile(r"(\d+)(?:层|楼)")
ROOM = re.compile(r"(\d+)(?:室|户|房|号)?$")

_t2s = OpenCC("t2s")


@dataclass(frozen=True)
class ParsedAddress:
    """An address taken apart; a part that is absent is the empty string."""

    road: str  # the road, 胡同, residential compound or point of interest
    number: str = ""  # the house number: 5, 甲5, 5-1
    building: str = ""  # 3 in 3号楼 (also 3栋, 3座, 3#)
    unit: str = ""  # 2 in 2单元
    floor: str = ""
    room: str = ""

    def normal_form(self) -> str:
        """Road, number, building and unit in one spelling (floor and room left out)."""
        parts = [self.road]
        if self.number:
            parts.append(f"{self.number}号")
        if self.building:
            parts.append(f"{self.building}号楼")
        if self.unit:
            parts.append(f"{self.unit}单元")
        return "".join(parts)


def chinese_number(numeral: str) -> int:
    """一百零五 → 105, 十五 → 15, 二〇三 → 203 (digit by digit when it has no 十/百/千)."""
    if not any(unit in numeral for unit in CHINESE_UNITS):
        return int("".join(str(CHINESE_DIGITS[ch]) for ch in numeral))
    total, digit = 0, 0
    for ch in numeral:
        if ch in CHINESE_UNITS:
            total += (digit or 1) * CHINESE_UNITS[ch]
            digit = 0
        else:
            digit = CHINESE_DIGITS[ch]
    return total + digit


def chinese_numeral(number: int) -> str:
    """3 → 三, 10 → 十, 14 → 十四, 21 → 二十一: how alleys (东四十四条) are numbered."""
    names = "零一二三四五六七八九"
    if number < 10:
        return names[number]
    tens, ones = divmod(number, 10)
    if number < 100:
        return ("" if tens == 1 else names[tens]) + "十" + (names[ones] if ones else "")
    return str(number)


def basic_text(text: str) -> str:
    """Half-width, simplified, lower-case ASCII, without spaces or punctuation."""
    text = _t2s.convert(unicodedata.normalize("NFKC", text)).lower()
    return KEEP.sub("", text)


def _digits_for_numbers(text: str) -> str:
    """Chinese numerals followed by a house-number word become digits (五号 → 5号); numerals in
    names (东四十条) are left alone, and digits before 条 become numerals (东四3条 → 东四三条)."""
    text = re.sub(
        rf"({NUMERAL})(?=(?:{PART_SUFFIX}))",
        lambda found: str(chinese_number(found.group(1))),
        text,
    )
    return re.sub(r"(\d+)条", lambda found: chinese_numeral(int(found.group(1))) + "条", text)


@lru_cache(maxsize=4096)
def parse_address(text: str) -> ParsedAddress:
    """The parts of an address in any order, spelling or script."""
    rest = _digits_for_numbers(NOISE.sub("", basic_text(text)))
    rest = PREFIX.sub("", LEADING_WORDS.sub("", rest, count=1), count=1)
    found: dict[str, str] = {}
    for name, pattern in (("number", NUMBER), ("building", BUILDING), ("unit", UNIT)):
        match = pattern.search(rest)
        if match:
            found[name] = match.group(1)
            rest = rest[: match.start()] + " " + rest[match.end() :]
    for name, pattern in (("floor", FLOOR), ("room", ROOM)):
        match = pattern.search(rest.rstrip())
        if match and (found or name == "floor"):
            found[name] = match.group(1)
            rest = rest[: match.start()] + " " + rest[match.end() :]
    road = "".join(piece for piece in rest.split() if piece.strip("#-"))
    return ParsedAddress(road=road.strip("#-"), **found)


def normalise_address(text: str) -> str:
    """The matcher's normal form of an address (see the module's docstring)."""
    return parse_address(text).normal_form()


def road_of(text: str) -> str:
    """The road (or place name) of an address, normalised."""
    return parse_address(text).road


def number_of(text: str) -> str:
    """The house number of an address ('' when it has none): 东四北大街五号院 → 5."""
    return parse_address(text).number


def building_of(text: str) -> str:
    """The building of an address ('' when it has none): 5号院3栋 → 3."""
    return parse_address(text).building
