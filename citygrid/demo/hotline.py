"""Demo: a month of 12345 hotline tickets beside the grid cases, so the ranking page shows real
spreads.

About 200 tickets a day over the last 30 days (6,000), in the mix a district's hotline sees:
consultations (咨询) and praise (表扬) recorded without work; requests for help, complaints,
reports and suggestions located into the demo's cells (at the gazetteer's addresses when it is
loaded, else at the cells' centres), a few still waiting to be located. Urgency: 3 % emergency,
12 % water/power/gas/heat, the rest general, with the standard's limits. Lead units: the street
office of the ticket's street for a little over half, a specialist for the rest — every demo
department. Each unit has its own promptness, resolution and satisfaction (drawn from its code),
so the rates spread. Tickets go as far as today lets them: dispatched, signed for, contacted (in
time or late), replied, called back (solved / partly / not solved × satisfied / fair / not
satisfied; a few callers never reached), reworked after "not solved" or "partly solved" and
called back again; some flagged unreasonable; the last days' tickets still open or waiting for
their callback.

Every draw is a hash of the ticket's number, so a load is the same every time; everything is
written set-based in SQL; a second load (which finds the demo tickets) adds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

DEMO_PREFIX = "DEMO12345-"
DISTRICT_CODE = "110101"  # citygrid.demo.city.DEMO_DISTRICT_CODE (city imports this module)
TICKETS = 6_000
DAYS = 30

# u(n, salt): a uniform draw in [0, 1) from the ticket number and a salt.
UNIFORM = "((hashint8(({n}) * 7919 + {salt}) & 2147483647)::float8 / 2147483648.0)"


def u(salt: int, n: str = "p.n") -> str:
    return UNIFORM.format(n=n, salt=salt)


CONTENT = {
    "consultation": ["咨询居住证办理需要哪些材料", "咨询老旧小区加装电梯补贴政策",
                     "咨询垃圾分类投放时间", "咨询供暖费缴纳方式"],
    "help": ["楼道灯坏了一周没人修", "小区门口井盖松动，夜里很危险", "下水道堵塞污水外溢",
             "楼前大树枝干快断了，担心砸人"],
    "complaint": ["胡同里垃圾堆积多日无人清运", "早上五点施工噪音扰民", "共享单车堆满人行道",
                  "路灯不亮，晚上出行不安全", "商户占道经营，行人无法通过"],
    "report": ["有人在院内私搭乱建", "餐馆向雨水井倾倒油污", "夜间有车辆违规倾倒渣土"],
    "suggestion": ["建议在路口增设非机动车停车区", "建议胡同口增加垃圾桶", "建议公园延长开放时间"],
    "praise": ["表扬街道工作人员及时清理积水", "感谢环卫工人雪后连夜清扫"],
    "utilities": ["家中停水两天了", "暖气不热，室温只有十五度", "小区突然停电", "燃气有异味"],
}  # fmt: skip


def _array(values: list[str]) -> str:
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"ARRAY[{quoted}]"


def _pick(values: list[str], salt: int) -> str:
    return f"({_array(values)})[1 + floor({u(salt)} * {len(values)})::int]"


PLAN_SQL = f"""
CREATE TEMP TABLE demo_hotline_plan ON COMMIT DROP AS
WITH units AS (
    SELECT id, code, kind,
           row_number() OVER (ORDER BY code) - 1 AS k, count(*) OVER () AS unit_count,
           -- each unit's promptness, resolution and satisfaction, drawn from its code
           0.78 + 0.21 * ((hashtext(code || 'r') & 1023) / 1023.0) AS p_response,
           0.50 + 0.47 * ((hashtext(code || 's') & 1023) / 1023.0) AS p_solved,
           0.55 + 0.42 * ((hashtext(code || 'f') & 1023) / 1023.0) AS p_satisfied
    FROM department WHERE is_active AND code LIKE :district || '%'
), specialists AS (
    SELECT *, row_number() OVER (ORDER BY code) - 1 AS s
    FROM units WHERE kind <> 'street_office'
), spots AS (
    SELECT row_number() OVER (ORDER BY spot_id) - 1 AS k, *
    FROM ({{spots}}) s
), raw AS (
    SELECT n,
           {u(1, "n")} AS u_type, {u(2, "n")} AS u_urgency, {u(3, "n")} AS u_spot,
           {u(4, "n")} AS u_unit, {u(19, "n")} AS u_specialist,
           -- a day of the last :days, then a time of day, mostly daytime (07:00 to 22:00)
           date_trunc('day', (:now - make_interval(days => floor({u(5, "n")} * :days)::int))
                             AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'
             + make_interval(mins => (7 * 60 + floor(power({u(6, "n")}, 1.3) * 900))::int)
             AS candidate_at
    FROM generate_series(1, :count) AS n
), draws AS (
    SELECT raw.*, CASE WHEN candidate_at > :now THEN candidate_at - interval '1 day'
                       ELSE candidate_at END AS received_at,
           floor(u_spot * (SELECT count(*) FROM spots))::int AS spot_k,
           floor(u_specialist * (SELECT count(*) FROM specialists))::int AS specialist_k
    FROM raw
)
SELECT d.n, :prefix || lpad(d.n::text, 6, '0') AS ticket_number,
       -- received over the last days, mostly in the daytime
       d.received_at,
       CASE WHEN d.u_type < 0.30 THEN 'consultation' WHEN d.u_type < 0.52 THEN 'help'
            WHEN d.u_type < 0.80 THEN 'complaint' WHEN d.u_type < 0.88 THEN 'report'
            WHEN d.u_type < 0.97 THEN 'suggestion' ELSE 'praise' END AS ticket_type,
       CASE WHEN d.u_urgency < 0.03 THEN 'emergency' WHEN d.u_urgency < 0.15 THEN 'utilities'
            ELSE 'general' END AS urgency_class,
       spot.address, spot.lon, spot.lat, spot.cell_id, spot.place_id,
       coalesce(office.id, spec.id) AS unit_id,
       coalesce(office.p_response, spec.p_response) AS p_response,
       coalesce(office.p_solved, spec.p_solved) AS p_solved,
       coalesce(office.p_satisfied, spec.p_satisfied) AS p_satisfied
FROM draws d
JOIN spots spot ON spot.k = d.spot_k
LEFT JOIN units office
       ON d.u_unit < 0.55 AND office.code = :district || '-JD-' || spot.street_code
JOIN specialists spec ON spec.s = d.specialist_k
"""
PLACE_SPOTS = """
SELECT p.id AS spot_id, p.name AS address, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat,
       p.cell_id, p.id AS place_id, street.code AS street_code
FROM place p
JOIN grid_cell g ON g.id = p.cell_id
JOIN grid_region community ON community.id = g.community_id
JOIN grid_region street ON street.id = community.parent_id
WHERE p.source = 'demo' AND p.kind = 'address'
"""
CELL_SPOTS = """
SELECT g.id AS spot_id, street.name || community.name || g.name AS address,
       ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat,
       g.id AS cell_id, NULL::bigint AS place_id, street.code AS street_code
FROM grid_cell g
JOIN grid_region community ON community.id = g.community_id
JOIN grid_region street ON street.id = community.parent_id
WHERE street.code LIKE :district || '%'
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
    input_datum, location_status, location_confidence, place_id, cell_id, status,
    lead_department_id, dispatch_due_at, sign_due_at, first_contact_due_at, reply_due_at,
    dispatched_at, signed_at, first_contacted_at, replied_at, closed_at, unreasonable,
    unreasonable_reason, created_at, updated_at)
SELECT s.ticket_number, s.received_at, s.ticket_type, s.urgency_class,
       CASE WHEN s.urgency_class = 'utilities' AND NOT s.no_work THEN {utilities}
            ELSE CASE s.ticket_type {contents} END END,
       s.address, CASE WHEN s.to_locate THEN NULL ELSE s.lon END,
       CASE WHEN s.to_locate THEN NULL ELSE s.lat END, NULL,
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
           st.received_at + st.to_dispatch + st.to_reply + st.to_callback AS called_at,
           st.received_at + st.to_dispatch + st.to_reply + st.to_callback * 2
               + interval '3 days' AS second_called_at
    FROM demo_hotline_story st
) s
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
LEFT JOIN LATERAL (SELECT id FROM app_user WHERE role = 'dispatcher' ORDER BY id LIMIT 1)
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
WHERE t.replied_at IS NOT NULL AND t.status IN ('closed', 'rework')
  AND NOT (t.status = 'closed' AND s.unreasonable AND tries.round = 2)
"""


def load_demo_hotline(session: Session, *, now: datetime | None = None) -> int:
    """Adds them; returns how many rows it added (0 when already there)."""
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
    session.execute(text(PLAN_SQL.format(spots=spots)), {**params, "count": TICKETS, "days": DAYS})
    session.execute(text(STORY_SQL))
    contents = " ".join(
        f"WHEN '{kind}' THEN {_pick(CONTENT[kind], 20)}" for kind in CONTENT if kind != "utilities"
    )
    tickets_sql = TICKETS_SQL.format(
        utilities=_pick(CONTENT["utilities"], 21).replace("p.n", "s.n"),
        contents=contents.replace("p.n", "s.n"),
    )
    added = session.execute(text(tickets_sql), params).rowcount  # type: ignore[attr-defined]
    session.execute(text(CALLERS_SQL), params)
    session.execute(text(CALLBACKS_SQL))
    session.execute(text("DROP TABLE demo_hotline_story"))
    session.execute(text("DROP TABLE demo_hotline_plan"))
    session.flush()
    return int(added)
