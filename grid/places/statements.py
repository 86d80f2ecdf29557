"""The matcher's SQL, written once for both drivers' placeholders (psycopg's `%(name)s`).

`MATCH_ADDRESS_SQL` is what the hotline intake runs on its own async psycopg connection (one
round trip): parameters `address` (the text as written, unused by the SQL: kept for logs and
for a future use), `normalised` (grid.places.addresses.normalise_address of it) and
`district_code` (None: every district). It answers at most five rows, best first: place_id,
label, lon, lat, cell_id, confidence. `MATCH_ADDRESSES_SQL` does the same for a batch
(`normalised` a list; rows also carry `position`, the 1-based index of the text).

How a candidate is scored (everything in SQL, so both paths agree):

1. Roads: the district's roads (and point-of-interest names, table place_road) whose search
   key shares enough trigrams with the address's road (`%`, pg_trgm's threshold 0.3, GIN
   index), the ROAD_POOL most similar. A district has a few thousand, not 50,000 places.
2. Candidates: the places on those roads with the address's house number (both none for a point
   of interest), by the (district, road, number) index. "5号" never even considers "15号",
   however alike the texts are.
3. Score = trigram similarity of the whole normal forms (road, number, building, unit) plus the
   building term; candidates are ranked by it, and the confidence is the score clipped to 0..1.

   | address has  | place has          | building term      |
   |--------------|--------------------|--------------------|
   | building B   | building B         | +BUILDING_MATCH    |
   | building B   | another building   | −BUILDING_MISMATCH |
   | building B   | none (the 号院)     | −BUILDING_ABSENT   |
   | no building  | a building         | −BUILDING_EXTRA    |

4. Ambiguity: when the runner-up in another cell scores within AMBIGUITY_MARGIN of the best,
   the best's confidence loses the difference (two equal candidates in different cells lose
   the whole margin), so an address that could be either waits for a dispatcher.
"""

from __future__ import annotations

ROAD_POOL = 8
CANDIDATE_POOL = 30
MAX_CANDIDATES = 5
BUILDING_MATCH = 0.1
BUILDING_MISMATCH = 0.3
BUILDING_ABSENT = 0.05
BUILDING_EXTRA = 0.1
AMBIGUITY_MARGIN = 0.15

# The number and building as written in the normal form (ParsedAddress.normal_form): "5号",
# "甲5号", "5-1号" then "3号楼". PostgreSQL's regular expressions know the (?!…) lookahead.
NUMBER_PATTERN = "([甲乙丙丁]?[0-9]+(?:-[0-9]+)?)号(?!楼)"
BUILDING_PATTERN = "([0-9a-z]+)号楼"

_SCORED = f"""
queries AS (
    SELECT q.position, q.normalised, place_search_key(q.normalised) AS key,
           coalesce(substring(q.normalised FROM '{NUMBER_PATTERN}'), '') AS number,
           coalesce(substring(q.normalised FROM '{BUILDING_PATTERN}'), '') AS building
    FROM {{queries}}
), parsed AS (
    -- The road is what comes before the number (or the building) in the normal form.
    SELECT queries.*, place_search_key(coalesce(
               substring(queries.normalised FROM '^(.*?)[甲乙丙丁]?[0-9]'),
               queries.normalised)) AS road_key
    FROM queries
), district AS (
    SELECT CASE WHEN %(district_code)s::text IS NOT NULL  -- an unknown district: no candidates
                THEN coalesce((SELECT id FROM grid_region
                               WHERE level = 'district' AND code = %(district_code)s::text), -1)
           END AS id
), scored AS (
    SELECT parsed.position, c.*
    FROM parsed CROSS JOIN district CROSS JOIN LATERAL (
        SELECT p.id AS place_id, p.name AS label, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat,
               p.cell_id,
               similarity(p.search_key, parsed.key)
                   + CASE WHEN parsed.building = '' AND p.building = '' THEN 0.0
                          WHEN parsed.building = '' THEN -{BUILDING_EXTRA}
                          WHEN p.building = parsed.building THEN {BUILDING_MATCH}
                          WHEN p.building = '' THEN -{BUILDING_ABSENT}
                          ELSE -{BUILDING_MISMATCH} END AS score
        FROM (
            SELECT r.district_id, r.road FROM place_road r
            WHERE r.search_key %% parsed.road_key
              AND (district.id IS NULL OR r.district_id = district.id)
            ORDER BY similarity(r.search_key, parsed.road_key) DESC, r.id
            LIMIT {ROAD_POOL}
        ) roads
        JOIN place p ON p.district_id = roads.district_id AND p.road = roads.road
                    AND p.number = parsed.number
        ORDER BY 6 DESC, p.id
        LIMIT {CANDIDATE_POOL}
    ) c
), ranked AS (
    SELECT scored.*, row_number() OVER (PARTITION BY position ORDER BY score DESC, place_id) AS rank
    FROM scored
), runner_up AS (
    SELECT best.position, max(other.score) AS score
    FROM ranked best JOIN ranked other
      ON other.position = best.position AND other.rank > 1
     AND other.cell_id IS DISTINCT FROM best.cell_id
    WHERE best.rank = 1
    GROUP BY best.position
)
SELECT {{position}}ranked.place_id, ranked.label, ranked.lon, ranked.lat, ranked.cell_id,
       round(least(1.0, greatest(0.0, CASE WHEN ranked.rank = 1 THEN ranked.score
                   - greatest(0.0, {AMBIGUITY_MARGIN}
                                   - (ranked.score - coalesce(runner_up.score, 0.0)))
                  ELSE ranked.score END))::numeric, 3)::float8 AS confidence
FROM ranked LEFT JOIN runner_up ON runner_up.position = ranked.position AND ranked.rank = 1
WHERE ranked.rank <= {MAX_CANDIDATES}
ORDER BY ranked.position, ranked.rank
"""

MATCH_ADDRESS_SQL = "WITH " + _SCORED.format(
    queries="(SELECT 1 AS position, %(normalised)s::text AS normalised) q", position=""
)
MATCH_ADDRESSES_SQL = "WITH " + _SCORED.format(
    queries="unnest(%(normalised)s::text[]) WITH ORDINALITY AS q(normalised, position)",
    position="ranked.position::int AS position, ",
)
