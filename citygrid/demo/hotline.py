"""Demo: a month of 12345 hotline tickets beside the grid cases, worked as the bridge works them.

About 200 tickets a day over the last 30 days (6,000), in the mix a district's hotline sees:
consultations (咨询) and praise (表扬) recorded without work; requests for help, complaints,
reports and suggestions located into the demo's cells (at the gazetteer's addresses when it is
loaded, else at the cells' centres), a few still waiting to be located. Urgency: 3 % emergency,
12 % water/power/gas/heat, the rest general, with the standard's limits. What the caller asks
has its category (垃圾 → sanitation, 路灯 → street lighting, 私搭乱建 → enforcement…), and the
ticket's unit is the one the demo's routing rules send that category to in the ticket's street:
the specialist of the category's type, else the street office. Each unit has its own
promptness, resolution and satisfaction (drawn from its code), so the rates spread. Tickets go
as far as today lets them: dispatched, signed for, contacted (in time or late), replied, called
back (solved / partly / not solved × satisfied / fair / not satisfied; a few callers never
reached after three tries), reworked after "not solved" or "partly solved" and called back
again; some flagged unreasonable; the last days' tickets still open or waiting for their
callback. citygrid.demo.hotline_cases then gives every located ticket its case and the
workflow's rows (returns, 兜底, co-units, summonses, replies, ticket events).

Every draw is a hash of the ticket's number, so a load is the same every time; the tickets are
written set-based in SQL; a second load (which finds the demo tickets) adds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from citygrid.demo import hotline_cases
from citygrid.demo.rules import SPECIALIST_KINDS

DEMO_PREFIX = "DEMO12345-"
DISTRICT_CODE = "110101"  # citygrid.demo.city.DEMO_DISTRICT_CODE (city imports this module)
TICKETS = 6_000
DAYS = 30
CELLS_PER_STREET_WITHOUT_ADDRESSES = 12

# u(n, salt): a uniform draw in [0, 1) from the ticket number and a salt.
UNIFORM = "((hashint8(({n}) * 7919 + {salt}) & 2147483647)::float8 / 2147483648.0)"


def u(salt: int, n: str = "p.n") -> str:
    return UNIFORM.format(n=n, salt=salt)


# What callers ask, by ticket type, each with the category (kind:code of the taxonomy) its case
# is filed under: the demo's routing rules send it to that type's specialist, else to the street
# office of its street. Consultations and praise open no case.
CONTENT: dict[str, list[tuple[str, str | None]]] = {
    "consultation": [("咨询居住证办理需要哪些材料", None), ("咨询老旧小区加装电梯补贴政策", None),
                     ("咨询垃圾分类投放时间", None), ("咨询供暖费缴纳方式", None)],
    "help": [("楼道灯坏了一周没人修", "event:0199"),
             ("小区门口井盖松动，夜里很危险", "component:0103"),
             ("下水道堵塞污水外溢", "event:0404"),
             ("楼前大树枝干快断了，担心砸人", "component:0402"),
             ("人行道地砖松动翘起，老人差点绊倒", "event:0110")],
    "complaint": [("胡同里垃圾堆积多日无人清运", "event:0103"),
                  ("早上五点施工噪音扰民", "event:0301"),
                  ("共享单车堆满人行道", "event:0506"),
                  ("路灯不亮，晚上出行不安全", "component:0118"),
                  ("商户占道经营，行人无法通过", "event:09006"),
                  ("路面塌陷出现大坑", "event:0401")],
    "report": [("有人在院内私搭乱建", "event:0101"), ("餐馆向雨水井倾倒油污", "event:0404"),
               ("夜间有车辆违规倾倒渣土", "event:0304")],
    "suggestion": [("建议在路口增设非机动车停车区", "event:0506"),
                   ("建议胡同口增加垃圾桶", "component:0305"),
                   ("建议公园延长开放时间", "component:0405")],
    "praise": [("表扬街道工作人员及时清理积水", None), ("感谢环卫工人雪后连夜清扫", None)],
    "utilities": [("家中停水两天了", "event:0402"), ("暖气不热，室温只有十五度", "event:0405"),
                  ("小区突然停电", "component:0116"), ("燃气有异味", "event:0403")],
}  # fmt: skip
# A category the taxonomy lacks falls back to this one (其他市容环境问题: the street office's).
FALLBACK_CATEGORY = "event:0199"


def _array(values: list[str]) -> str:
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"ARRAY[{quoted}]"


PLAN_SQL = f"""
CREATE TEMP TABLE demo_hotline_plan ON COMMIT DROP AS
WITH units AS (
    SELECT id, code, kind,
           -- each unit's promptness, resolution and satisfaction, drawn from its code
           0.78 + 0.21 * ((hashtext(code || 'r') & 1023) / 1023.0) AS p_response,
           0.50 + 0.47 * ((hashtext(code || 's') & 1023) / 1023.0) AS p_solved,
           0.55 + 0.42 * ((hashtext(code || 'f') & 1023) / 1023.0) AS p_satisfied
    FROM department WHERE is_active AND code LIKE :district || '%'
), specialists AS (  -- the lowest code of each specialist type, as the demo's rules choose
    SELECT DISTINCT ON (kind) * FROM units WHERE kind = ANY(:specialist_kinds) ORDER BY kind, code
), spots AS (  -- numbered within their street, the streets numbered too
    SELECT row_number() OVER (PARTITION BY street_code ORDER BY spot_id) - 1 AS k,
           dense_rank() OVER (ORDER BY street_code) - 1 AS street_k,
           count(*) OVER (PARTITION BY street_code) AS in_street, *
    FROM ({{spots}}) s
), streets AS (
    SELECT DISTINCT street_k, in_street FROM spots
), raw AS (
    SELECT n,
           {u(1, "n")} AS u_type, {u(2, "n")} AS u_urgency, {u(3, "n")} AS u_spot,
           {u(21, "n")} AS u_street,
           {u(20, "n")} AS u_content,
           -- a day of the last :days, then a time of day, mostly daytime (07:00 to 22:00)
           date_trunc('day', (:now - make_interval(days => floor({u(5, "n")} * :days)::int))
                             AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'
             + make_interval(mins => (7 * 60 + floor(power({u(6, "n")}, 1.3) * 900))::int)
             AS candidate_at
    FROM generate_series(1, :count) AS n
), typed AS (
    SELECT raw.*, CASE WHEN candidate_at > :now THEN candidate_at - interval '1 day'
                       ELSE candidate_at END AS received_at,
           -- every street alike (each has its street office), then a spot in it
           floor(u_street * (SELECT count(*) FROM streets))::int AS street_k,
           CASE WHEN u_type < 0.30 THEN 'consultation' WHEN u_type < 0.52 THEN 'help'
                WHEN u_type < 0.80 THEN 'complaint' WHEN u_type < 0.88 THEN 'report'
                WHEN u_type < 0.97 THEN 'suggestion' ELSE 'praise' END AS ticket_type,
           CASE WHEN u_urgency < 0.03 THEN 'emergency' WHEN u_urgency < 0.15 THEN 'utilities'
                ELSE 'general' END AS urgency_class
    FROM raw
), draws AS (  -- what the caller asks: a utility's failure, else a request of the ticket's type
    SELECT typed.*, CASE WHEN urgency_class = 'utilities'
                              AND ticket_type NOT IN ('consultation', 'praise')
                         THEN 'utilities' ELSE ticket_type END AS content_kind,
           floor(u_spot * street.in_street)::int AS spot_k
    FROM typed JOIN streets street ON street.street_k = typed.street_k
), asked AS (
    SELECT d.*, what.content, what.category_key
    FROM draws d
    JOIN {{contents}} AS what (content_kind, i, content, category_key)
      ON what.content_kind = d.content_kind
     AND what.i = floor(d.u_content * (SELECT count(*) FROM {{contents}} AS c (kind, i, t, k)
                                       WHERE c.kind = d.content_kind))::int
)
SELECT d.n, :prefix || lpad(d.n::text, 6, '0') AS ticket_number,
       -- received over the last days, mostly in the daytime
       d.received_at, d.ticket_type, d.urgency_class, d.content,
       spot.address, spot.lon, spot.lat, spot.cell_id, spot.place_id, spot.street_code,
       category.id AS category_id, category.department_type,
       -- the responsible unit: the specialist of the category's type, else the street office
       -- of the spot's street (the demo's routing rules)
       unit.id AS unit_id, unit.p_response, unit.p_solved, unit.p_satisfied
FROM asked d
JOIN spots spot ON spot.street_k = d.street_k AND spot.k = d.spot_k
LEFT JOIN LATERAL (
    SELECT c.id, c.department_type FROM category c
    WHERE c.kind || ':' || c.code IN (d.category_key, :fallback_category)
      AND c.retired_at IS NULL
    ORDER BY c.kind || ':' || c.code = d.category_key DESC, c.id LIMIT 1
) category ON d.category_key IS NOT NULL
LEFT JOIN LATERAL (
    SELECT * FROM (
        SELECT s.*, 1 AS rank FROM specialists s WHERE s.kind = category.department_type
        UNION ALL
        SELECT o.*, 2 FROM units o WHERE o.code = :district || '-JD-' || spot.street_code
        UNION ALL
        SELECT a.*, 3 FROM units a WHERE a.kind <> 'district_government'
    ) candidates ORDER BY rank, code LIMIT 1
) unit ON true
"""
CELL_SPOTS = """
SELECT 'c' || lpad(g.id::text, 12, '0') AS spot_id,
       street.name || community.name || g.name AS address,
       ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat,
       g.id AS cell_id, NULL::bigint AS place_id, street.code AS street_code,
       row_number() OVER (PARTITION BY street.id ORDER BY g.code) AS nth_in_street
FROM grid_cell g
JOIN grid_region community ON community.id = g.community_id
JOIN grid_region street ON street.id = community.parent_id
WHERE street.code LIKE :district || '%'
"""
# The gazetteer's addresses; in a street it has none, the centres of a few of its cells, so
# every street office has its tickets.
PLACE_SPOTS = f"""
WITH addresses AS (
    SELECT 'p' || lpad(p.id::text, 12, '0') AS spot_id, p.name AS address,
           ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, p.cell_id, p.id AS place_id,
           street.code AS street_code
    FROM place p
    JOIN grid_cell g ON g.id = p.cell_id
    JOIN grid_region community ON community.id = g.community_id
    JOIN grid_region street ON street.id = community.parent_id
    WHERE p.source = 'demo' AND p.kind = 'address'
)
SELECT * FROM addresses
UNION ALL
SELECT spot_id, address, lon, lat, cell_id, place_id, street_code FROM ({CELL_SPOTS}) cell
WHERE cell.nth_in_street <= {CELLS_PER_STREET_WITHOUT_ADDRESSES}
  AND cell.street_code NOT IN (SELECT street_code FROM addresses)
"""
# Hours of each limit by urgency class (events/hotline/standard.py's defaults, clock time).
LIMITS_SQL = """
CASE p.urgency_class WHEN 'emergency' THEN {emergency} WHEN 'utilities' THEN {utilities}
     ELSE {general} END
"""


def _limit(emergency: float, utilities: float, general: float) -> str:
    return LIMITS_SQL.format(emergency=emergency, utilities=utilities, general=general)


# The story of each ticket, as far as :now lets it go (the hours after receipt of each step).
STORY_SQL = f"""
CREATE TEMP TABLE demo_hotline_story ON COMMIT DROP AS
SELECT p.*, p.ticket_type IN ('consultation', 'praise') AS no_work,
       {u(7)} < 0.04 AND p.ticket_type NOT IN ('consultation', 'praise') AS to_locate,
       make_interval(secs => 3600 * {_limit(1, 2, 24)}) AS dispatch_limit,
       make_interval(secs => 3600 * {_limit(0.5, 1, 4)}) AS sign_limit,
       make_interval(secs => 3600 * {_limit(2, 2, 24)}) AS contact_limit,
       make_interval(secs => 3600 * {_limit(24, 24, 168)}) AS reply_limit,
       make_interval(secs => 3600 * {_limit(1, 2, 24)} * (0.1 + 0.8 * {u(8)})) AS to_dispatch,
       make_interval(secs => 3600 * {_limit(0.5, 1, 4)} * (0.1 + 1.1 * {u(9)})) AS to_sign,
       make_interval(secs => 3600 * {_limit(2, 2, 24)}
           * CASE WHEN {u(10)} < p.p_response THEN 0.1 + 0.85 * {u(11)}
                  ELSE 1.1 + 1.5 * {u(11)} END) AS to_contact,
       make_interval(secs => 3600 * {_limit(24, 24, 168)} * (0.2 + 0.9 * {u(12)})) AS to_reply,
       make_interval(hours => 4 + floor(44 * {u(13)})::int) AS to_callback,
       CASE WHEN {u(14)} < p.p_solved THEN 'solved'
            WHEN {u(14)} < p.p_solved + (1 - p.p_solved) * 0.55 THEN 'partly'
            ELSE 'not_solved' END AS solved,
       {u(15)} AS u_satisfied,
       {u(16)} < 0.05 AS unreachable,
       {u(17)} < 0.015 AS unreasonable,
       {u(18)} AS u_second
FROM demo_hotline_plan p
"""
TICKETS_SQL = """
INSERT INTO hotline_ticket (
    ticket_number, received_at, ticket_type, urgency_class, content, address_text, lon, lat,
    input_datum, category_id, location_status, location_confidence, place_id, cell_id, status,
    lead_department_id, dispatch_due_at, sign_due_at, first_contact_due_at, reply_due_at,
    dispatched_at, signed_at, first_contacted_at, replied_at, closed_at, unreasonable,
    unreasonable_reason, created_at, updated_at)
SELECT s.ticket_number, s.received_at, s.ticket_type, s.urgency_class,
       s.content, s.address, CASE WHEN s.to_locate THEN NULL ELSE s.lon END,
       CASE WHEN s.to_locate THEN NULL ELSE s.lat END, NULL, s.category_id,
       CASE WHEN s.no_work THEN 'not_needed' WHEN s.to_locate THEN 'to_locate' ELSE 'located' END,
       CASE WHEN s.no_work OR s.to_locate THEN NULL ELSE 0.9 END,
       CASE WHEN s.no_work OR s.to_locate THEN NULL ELSE s.place_id END,
       CASE WHEN s.no_work OR s.to_locate THEN NULL ELSE s.cell_id END,
       CASE WHEN s.no_work THEN 'recorded'
            WHEN s.to_locate THEN 'to_locate'
            WHEN s.dispatched_at > :now THEN 'filed'
            WHEN s.signed_at > :now THEN 'dispatched'
            WHEN s.replied_at > :now THEN 'signed'
            WHEN s.called_at > :now THEN 'replied'
            WHEN s.solved IN ('not_solved', 'partly') AND NOT s.unreachable AND NOT s.unreasonable
                 AND s.second_called_at > :now THEN 'rework'
            ELSE 'closed' END,
       CASE WHEN s.work THEN s.unit_id END,
       CASE WHEN s.work THEN s.received_at + s.dispatch_limit END,
       CASE WHEN s.work THEN s.dispatched_at + s.sign_limit END,
       CASE WHEN s.work THEN s.dispatched_at + s.contact_limit END,
       CASE WHEN s.work THEN s.dispatched_at + s.reply_limit END,
       CASE WHEN s.work AND s.dispatched_at <= :now THEN s.dispatched_at END,
       CASE WHEN s.work AND s.signed_at <= :now THEN s.signed_at END,
       CASE WHEN s.work AND s.contacted_at <= :now THEN s.contacted_at END,
       CASE WHEN s.work AND s.replied_at <= :now THEN s.replied_at END,
       CASE WHEN NOT s.work OR s.called_at > :now THEN NULL
            WHEN s.solved IN ('not_solved', 'partly') AND NOT s.unreachable AND NOT s.unreasonable
                 THEN CASE WHEN s.second_called_at <= :now THEN s.second_called_at END
            ELSE s.called_at END,
       s.work AND s.unreasonable AND s.called_at <= :now,
       CASE WHEN s.work AND s.unreasonable AND s.called_at <= :now
            THEN '诉求超出政策规定范围，经派遣员审核认定为不合理诉求' END,
       s.received_at, :now
FROM (
    SELECT st.*, NOT st.no_work AND NOT st.to_locate AS work,
           st.received_at + st.to_dispatch AS dispatched_at,
           st.received_at + st.to_dispatch + st.to_sign AS signed_at,
           st.received_at + st.to_dispatch + st.to_contact AS contacted_at,
           st.received_at + st.to_dispatch + st.to_reply AS replied_at,
           -- the callback that settles the first round: an unreachable caller's third try
           st.received_at + st.to_dispatch + st.to_reply + st.to_callback
               + CASE WHEN st.unreachable THEN interval '6 hours' ELSE interval '0' END
               AS called_at,
           st.received_at + st.to_dispatch + st.to_reply + st.to_callback * 2
               + interval '3 days' AS second_called_at
    FROM demo_hotline_story st
) s
"""
# A ticket waiting to be located said its address vaguely (the road, without the number): the
# matcher's candidates are the three nearest addresses, each below the threshold (0.6 by
# default), for a dispatcher to pick on 热线工单's first tab.
VAGUE_ADDRESS_SQL = """
UPDATE hotline_ticket t
SET address_text = regexp_replace(t.address_text, '[0-9]+号.*$', '') || '附近',
    candidates = near.candidates,
    location_confidence = (near.candidates -> 0 ->> 'confidence')::real
FROM demo_hotline_story s
CROSS JOIN LATERAL (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'place_id', p.id, 'label', p.name, 'lon', ST_X(p.geom), 'lat', ST_Y(p.geom),
               'cell_id', p.cell_id, 'confidence', 0.55 - 0.1 * (p.rank - 1)) ORDER BY p.rank),
               '[]'::jsonb) AS candidates
    FROM (
        SELECT p.*, row_number() OVER (ORDER BY p.distance) AS rank
        FROM (SELECT place.*, place.geom <-> ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)
                              AS distance
              FROM place WHERE place.source = 'demo' AND place.kind = 'address'
                AND place.cell_id IS NOT NULL  -- nearest first, by the spatial index
              ORDER BY place.geom <-> ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)
              LIMIT 3) p
    ) p
) near
WHERE t.ticket_number = s.ticket_number AND t.status = 'to_locate' AND s.place_id IS NOT NULL
"""
# Callers (personal data, apart): demo names and numbers that belong to nobody (199 0000 …).
CALLERS_SQL = f"""
INSERT INTO hotline_caller (ticket_id, name, phone)
SELECT t.id,
       ({_array(list("王李张刘陈杨赵黄周吴"))})[1 + (hashtext(t.ticket_number) & 7)]
         || CASE WHEN hashtext(t.ticket_number || 'g') & 1 = 0 THEN '女士' ELSE '先生' END,
       '1990000' || lpad((abs(hashtext(t.ticket_number)) % 10000)::text, 4, '0')
FROM hotline_ticket t WHERE t.ticket_number LIKE :prefix || '%'
"""
# The callbacks that have happened: the first round for every replied ticket whose callback
# time has passed (three unanswered tries for an unreachable caller), and the second round
# after a rework.
CALLBACKS_SQL = """
INSERT INTO hotline_callback (ticket_id, round, attempt, at, operator_id, reached, solved,
                              satisfaction, gave_up)
SELECT t.id, tries.round, tries.attempt, tries.at, operator.id, tries.reached,
       CASE WHEN tries.reached THEN tries.solved END,
       CASE WHEN tries.reached THEN tries.satisfaction END, tries.gave_up
FROM demo_hotline_story s
JOIN hotline_ticket t ON t.ticket_number = s.ticket_number
LEFT JOIN LATERAL (SELECT id FROM app_user WHERE role = 'dispatcher' AND is_active
                   ORDER BY id LIMIT 1)
       operator ON true
CROSS JOIN LATERAL (
    SELECT 1 AS round, a AS attempt,
           t.replied_at + s.to_callback + make_interval(hours => 3 * (a - 1)) AS at,
           NOT s.unreachable AS reached, s.solved,
           CASE WHEN s.solved = 'solved' AND s.u_satisfied < s.p_satisfied + 0.05 THEN 'satisfied'
                WHEN s.solved = 'not_solved' AND s.u_satisfied < 0.8 THEN 'unsatisfied'
                WHEN s.u_satisfied < s.p_satisfied * 0.7 THEN 'satisfied'
                WHEN s.u_satisfied < 0.92 THEN 'fair' ELSE 'unsatisfied' END AS satisfaction,
           s.unreachable AND a = 3 AS gave_up
    FROM generate_series(1, CASE WHEN s.unreachable THEN 3 ELSE 1 END) AS a
    UNION ALL
    SELECT 2, 1, t.closed_at, true, 'solved',
           CASE WHEN s.u_second < 0.6 THEN 'satisfied' ELSE 'fair' END, false
    WHERE s.solved IN ('not_solved', 'partly') AND NOT s.unreachable AND t.closed_at IS NOT NULL
) tries
WHERE t.replied_at IS NOT NULL AND t.status IN ('closed', 'rework', 'replied')
  AND tries.at <= :now  -- an unreachable caller's later tries may still be to come
  AND NOT (t.status = 'closed' AND s.unreasonable AND tries.round = 2)
"""


def _contents() -> str:
    """What callers ask as a VALUES list: (kind, index from 0, content, category key)."""
    rows = [
        (kind, i, text_.replace("'", "''"), key or "")
        for kind, asked in CONTENT.items()
        for i, (text_, key) in enumerate(asked)
    ]
    values = ", ".join(
        f"('{kind}', {i}, '{text_}', NULLIF('{key}', ''))" for kind, i, text_, key in rows
    )
    return f"(VALUES {values})"


def load_demo_hotline(
    session: Session, *, now: datetime | None = None, tickets: int = TICKETS
) -> int:
    """Adds them, with their cases (citygrid.demo.hotline_cases); returns how many tickets it
    added (0 when already there)."""
    known = session.scalar(
        text("SELECT count(*) FROM hotline_ticket WHERE ticket_number LIKE :prefix || '%'"),
        {"prefix": DEMO_PREFIX},
    )
    if known:
        return 0
    now = now or datetime.now(UTC)
    places = session.scalar(
        text("SELECT count(*) FROM place WHERE source = 'demo' AND cell_id IS NOT NULL")
    )
    spots = PLACE_SPOTS if places else CELL_SPOTS
    params = {"district": DISTRICT_CODE, "prefix": DEMO_PREFIX, "now": now}
    plan = PLAN_SQL.format(spots=spots, contents=_contents())
    session.execute(
        text(plan),
        {
            **params,
            "count": tickets,
            "days": DAYS,
            "specialist_kinds": list(SPECIALIST_KINDS),
            "fallback_category": FALLBACK_CATEGORY,
        },
    )
    session.execute(text(STORY_SQL))
    added = session.execute(text(TICKETS_SQL), params).rowcount  # type: ignore[attr-defined]
    if places:
        session.execute(text(VAGUE_ADDRESS_SQL))
    session.execute(text(CALLERS_SQL), params)
    session.execute(text(CALLBACKS_SQL), params)
    hotline_cases.work_demo_tickets(session, now=now, prefix=DEMO_PREFIX)
    session.execute(text("DROP TABLE demo_hotline_story"))
    session.execute(text("DROP TABLE demo_hotline_plan"))
    session.flush()
    return int(added)
