"""A generated corpus of descriptions for tests and benchmarks (pure).

Each category's descriptions come from several templates per kind (component or event), with
the category's name or one of its synonyms, a problem word, a place, and noise: filler
sentences, dropped or doubled characters, digits, and now and then a word of another category.
The texts are in time order: the held-out slice is the latest one, as in training.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

# Name fragments and what reporters write instead; applied to the category names.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "井盖": ("窨井盖", "井盖子", "检查井盖", "井口盖板"),
    "路灯": ("街灯", "灯杆", "照明灯", "路边的灯"),
    "垃圾": ("垃圾堆", "废弃物", "生活垃圾", "杂物"),
    "树": ("树木", "行道树", "大树"),
    "广告": ("小广告", "招贴", "牛皮癣"),
    "车": ("车辆", "汽车", "机动车"),
    "水": ("积水", "水"),
    "道路": ("马路", "路面", "街道"),
    "护栏": ("栏杆", "隔离栏", "围栏"),
    "厕所": ("公厕", "卫生间"),
    "桥": ("桥梁", "天桥"),
    "箱": ("箱子", "箱体"),
    "牌": ("标牌", "指示牌", "牌子"),
    "绿地": ("草坪", "绿化带"),
    "占道": ("占用道路", "占人行道"),
    "施工": ("工地", "施工现场"),
}
COMPONENT_PROBLEMS = (
    "破损",
    "损坏",
    "丢失",
    "松动",
    "缺失",
    "倾斜",
    "坏了",
    "被盗",
    "变形",
    "断裂",
)
EVENT_PROBLEMS = ("严重", "影响通行", "影响市容", "多日未处理", "反复出现", "群众反映强烈", "")
PLACES = (
    "人民路",
    "解放大道",
    "中山路",
    "建设街",
    "东风路",
    "学府路",
    "和平里",
    "幸福小区",
    "滨江路",
    "长江路",
    "黄河街",
    "光明巷",
    "文化广场",
    "火车站",
    "第三中学",
    "人民公园",
)
SPOTS = ("门口", "附近", "路口", "东侧", "西侧", "南段", "北段", "对面", "拐角处", "旁边")
FILLER = (
    "请尽快处理",
    "麻烦相关部门看一下",
    "已经好几天了",
    "存在安全隐患",
    "希望早日解决",
    "晚上看不清楚",
    "老人小孩经过很危险",
    "谢谢",
    "拍照为证",
    "市民来电反映",
)
COMPONENT_TEMPLATES = (
    "{place}{spot}的{name}{problem}，{filler}",
    "{place}{spot}有个{name}{problem}了",
    "发现{name}{problem}，位置在{place}{spot}。{filler}",
    "{filler}，{place}{spot}{name}{problem}",
    "{name}{problem}（{place}{spot}）",
    "反映：{place}{name}{problem}，{filler}，{filler2}",
)
EVENT_TEMPLATES = (
    "{place}{spot}{name}{problem}，{filler}",
    "{place}{spot}有人{name}，{filler}",
    "举报{place}{spot}存在{name}问题。{filler}",
    "{filler}，{place}{spot}{name}",
    "{name}（{place}{spot}），{problem}",
    "市民反映{place}一带{name}{problem}，{filler2}",
)


@dataclass(frozen=True)
class CorpusCategory:
    id: int
    kind: str  # component or event
    name_zh: str


def names_of(name: str) -> list[str]:
    """The category's name and the names a reporter may use instead."""
    names = [name]
    for fragment, others in SYNONYMS.items():
        if fragment in name:
            names.extend(name.replace(fragment, other) for other in others)
    return names


def noisy(text: str, rng: random.Random) -> str:
    """Drop, double or swap a character, or add digits: what typing on a phone does."""
    chars = list(text)
    for _ in range(rng.randint(0, 2)):
        if len(chars) < 4:
            break
        i = rng.randrange(len(chars))
        match rng.randrange(4):
            case 0:
                del chars[i]
            case 1:
                chars.insert(i, chars[i])
            case 2 if i + 1 < len(chars):
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
            case _:
                chars.insert(i, str(rng.randint(1, 99)))
    return "".join(chars)


def descriptions(
    categories: Sequence[CorpusCategory], count: int, *, seed: int = 7
) -> Iterator[tuple[str, int]]:
    """`count` (description, category id) pairs, categories drawn with uneven frequencies."""
    rng = random.Random(seed)
    names = {category.id: names_of(category.name_zh) for category in categories}
    frequency = [1.0 / (1 + (i % 7)) for i in range(len(categories))]
    for _ in range(count):
        category = rng.choices(categories, weights=frequency)[0]
        component = category.kind == "component"
        template = rng.choice(COMPONENT_TEMPLATES if component else EVENT_TEMPLATES)
        text = template.format(
            place=rng.choice(PLACES),
            spot=rng.choice(SPOTS),
            name=rng.choice(names[category.id]),
            problem=rng.choice(COMPONENT_PROBLEMS if component else EVENT_PROBLEMS),
            filler=rng.choice(FILLER),
            filler2=rng.choice(FILLER),
        )
        if rng.random() < 0.1:  # a word of another category: "… next to the street lamp"
            other = rng.choice(categories)
            text += f"，就在{rng.choice(names[other.id])}旁边"
        yield noisy(text, rng), category.id
