"""Labelled messy addresses: how callers and operators really write gazetteer addresses (pure).

From a gazetteer entry ("东四北大街5号院3号楼") the generator writes what a hotline ticket may
carry, each labelled with the true place and cell, deterministic for a seed. Every address gets
one to three of these variations:

| variation     | example                                     |
|---------------|---------------------------------------------|
| typo          | 东四北大街 → 东寺北大街 (a homophone in the name, never the number) |
| prefix        | 北京市东城区…, 东城区…, 北京东城… or none          |
| reorder       | 3号楼, 东四北大街5号院                           |
| traditional   | 東四北大街 (OpenCC s2t)                         |
| full-width    | ５号院３号楼                                     |
| noise         | …附近, …对面, …门口, 在…旁边                     |
| numerals      | 五号院三号楼                                     |
| spelling      | 号楼 → 栋/座/#, 号院 → 号                        |
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opencc import OpenCC

from grid.places.addresses import chinese_numeral

# A character a caller or an input method may put for another: homophones and look-alikes.
TYPOS = {
    "东": "冬董",
    "西": "希溪",
    "南": "男难",
    "北": "背贝",
    "四": "寺泗",
    "大": "达打",
    "街": "接阶",
    "胡": "湖糊",
    "同": "铜桐",
    "门": "们闷",
    "安": "按岸",
    "和": "河合",
    "平": "苹凭",
    "里": "理李",
    "内": "纳",
    "口": "扣",
    "路": "露鹿",
    "条": "调",
    "城": "成程",
    "花": "华",
    "市": "是",
    "交": "郊",
    "道": "到",
    "子": "紫",
    "桥": "侨乔",
    "新": "心欣",
    "天": "田",
    "坛": "谈",
    "龙": "隆",
    "潭": "谭",
    "永": "勇",
    "定": "订",
    "宫": "公",
    "雍": "拥",
    "景": "井",
    "国": "郭",
    "美": "每",
    "术": "树",
    "馆": "管",
    "医": "衣",
    "学": "雪",
    "中": "钟",
    "小": "晓",
    "公": "工",
    "园": "元",
    "站": "战",
    "场": "厂",
    "府": "付",
    "井": "景",
    "河": "和",
    "沿": "延",
    "池": "迟",
    "华": "花",
    "台": "抬",
    "厂": "场",
    "正": "证",
    "义": "意",
    "民": "明",
    "巷": "象",
    "建": "件",
    "朝": "潮",
    "阳": "杨",
    "直": "值",
    "张": "章",
    "自": "字",
    "忠": "中",
    "鼓": "古",
    "楼": "搂",
    "锣": "罗",
    "崇": "从",
    "文": "问",
    "前": "钱",
    "珠": "朱",
    "体": "休",
    "育": "玉",
    "渠": "渠",
    "光": "广",
    "明": "名",
    "法": "发",
    "寺": "四",
    "幸": "兴",
    "福": "富",
    "夕": "西",
    "照": "招",
    "乐": "勒",
    "林": "琳",
    "外": "歪",
    "沙": "纱",
    "滩": "摊",
    "钱": "前",
    "粮": "梁",
    "史": "使",
    "家": "加",
    "部": "步",
    "演": "眼",
    "本": "苯",
    "司": "丝",
    "干": "甘",
    "面": "免",
    "鲜": "先",
    "礼": "李",
    "士": "是",
    "总": "纵",
    "布": "步",
    "遂": "随",
    "伯": "柏",
    "堂": "唐",
    "帽": "冒",
    "儿": "而",
    "雨": "语",
    "棉": "绵",
    "菊": "局",
    "圆": "园",
    "恩": "嗯",
    "芝": "之",
    "麻": "马",
    "板": "版",
    "炒": "吵",
    "豆": "逗",
    "兵": "冰",
    "马": "吗",
    "祥": "详",
    "蓑": "梭",
    "衣": "医",
    "监": "间",
    "营": "赢",
    "方": "芳",
    "箭": "剑",
    "兴": "星",
    "香": "乡",
    "饵": "耳",
    "压": "鸭",
    "磨": "魔",
    "草": "曹",
    "长": "常",
    "培": "陪",
    "桃": "陶",
    "杨": "阳",
    "海": "还",
    "运": "云",
    "仓": "苍",
    "协": "胁",
    "医院": "医员",
}
PREFIXES = ("北京市东城区", "东城区", "北京东城区", "北京市", "北京东城", "东城", "")
NOISE_AFTER = ("附近", "对面", "门口", "旁边", "东侧", "西侧", "南侧", "北侧", "一带", "斜对面")
NOISE_BEFORE = ("在", "地址是", "位于", "就在")
BUILDING_SPELLINGS = ("栋", "座", "#", "号楼", "幢")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
PARTS = re.compile(
    r"^(?P<road>.*?)(?P<number>[甲乙丙]?\d+)号(?P<gate>院?)(?:(?P<building>\d+)号楼)?"
    r"(?:(?P<unit>\d+)单元)?$"
)

_s2t = OpenCC("s2t")


@dataclass(frozen=True)
class MessyAddress:
    """An address as a ticket may carry it, and where it truly is."""

    text: str
    place_id: int
    cell_id: int | None
    standard: str  # the gazetteer's name it was made from
    variations: tuple[str, ...]


@dataclass(frozen=True)
class GazetteerEntry:
    place_id: int
    cell_id: int | None
    name: str


def _typo(text: str, rng: random.Random) -> str:
    """One character of the name part (before any digit) swapped for a look-alike."""
    cut = re.search(r"[甲乙丙]?\d", text)
    name_end = cut.start() if cut else len(text)
    spots = [i for i in range(name_end) if text[i] in TYPOS]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + rng.choice(TYPOS[text[i]]) + text[i + 1 :]


def _numerals(text: str, rng: random.Random) -> str:
    """House, building and unit numbers in Chinese numerals (五号院三号楼)."""
    return re.sub(
        r"(\d+)(?=号|单元)",
        lambda found: (
            chinese_numeral(int(found.group(1))) if int(found.group(1)) < 100 else found.group(1)
        ),
        text,
    )


def _reorder(text: str, rng: random.Random) -> str:
    """The building (or the number) first, then the rest: 3号楼, 东四北大街5号院."""
    parts = PARTS.match(text)
    if parts is None:
        return text
    road, number, gate = parts["road"], parts["number"], parts["gate"]
    if parts["building"]:
        unit = f"{parts['unit']}单元" if parts["unit"] else ""
        return f"{parts['building']}号楼{unit} {road}{number}号{gate}"
    return f"{number}号{gate} {road}"


def _spelling(text: str, rng: random.Random) -> str:
    """Another way to write the building (栋, 座, #) or the compound (号 for 号院)."""
    if "号楼" in text:
        return text.replace("号楼", rng.choice(BUILDING_SPELLINGS), 1)
    return text.replace("号院", "号", 1)


def _traditional(text: str, rng: random.Random) -> str:
    return str(_s2t.convert(text))


def _full_width(text: str, rng: random.Random) -> str:
    return text.translate(FULL_WIDTH)


def _noise(text: str, rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(NOISE_BEFORE) + text + rng.choice(("旁边", "附近", ""))
    return text + rng.choice(NOISE_AFTER)


def _prefix(text: str, rng: random.Random) -> str:
    return rng.choice(PREFIXES) + rng.choice(("", " ")) + text


# In the order they are applied: structure first, script last.
VARIATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "typo": _typo,
    "numerals": _numerals,
    "spelling": _spelling,
    "reorder": _reorder,
    "noise": _noise,
    "prefix": _prefix,
    "traditional": _traditional,
    "full_width": _full_width,
}


def messy_addresses(
    entries: Sequence[GazetteerEntry], count: int, *, seed: int = 17
) -> list[MessyAddress]:
    """`count` messy addresses of entries drawn at random (with one to three variations each)."""
    rng = random.Random(seed)
    names = list(VARIATIONS)
    made: list[MessyAddress] = []
    for _ in range(count):
        entry = rng.choice(entries)
        chosen = set(rng.sample(names, rng.randint(1, 3)))
        text = entry.name
        for name in names:
            if name in chosen:
                text = VARIATIONS[name](text, rng)
        made.append(
            MessyAddress(text, entry.place_id, entry.cell_id, entry.name, tuple(sorted(chosen)))
        )
    return made
