"""A database migrated from data for the partitions tests: plain tables with rows, then the
partitions migration in place (the other tests use the suite's database, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from citygrid import cli as citygrid_cli
from tests.conftest import throwaway_database

PLAIN_REVISION = "c1a0e5a18002"  # the one before 2026-12-06_monthly_partitions
# Cases over the last ~200 days: the older ones closed long ago, case 1 (the newest) still open;
# each with a report, three history rows, a notification and a webhook delivery with an attempt;
# every tenth report and its first history row have a photo.
SEED = """
INSERT INTO app_user (username, display_name, password_hash, role)
VALUES ('seed-inspector', 'seed', 'x', 'inspector');
INSERT INTO category (kind, standard, code, level, name_zh, name_en)
VALUES ('event', 'seed', '9901', 'minor', '测试', 'test');
INSERT INTO grid_region (level, code, name, geom, area_m2)
VALUES ('district', 'D1', '区', ST_Multi(ST_MakeEnvelope(116, 39, 116.01, 39.01, 4326)), 1);
INSERT INTO grid_region (level, code, name, geom, area_m2, parent_id)
SELECT 'street', 'S1', '街道', geom, 1, id FROM grid_region WHERE code = 'D1';
INSERT INTO grid_region (level, code, name, geom, area_m2, parent_id)
SELECT 'community', 'C1', '社区', geom, 1, id FROM grid_region WHERE code = 'S1';
INSERT INTO grid_cell (community_id, code, name, geom, area_m2)
SELECT id, 'CELL1', '单元网格', ST_Multi(ST_MakeEnvelope(116, 39, 116.01, 39.01, 4326)), 1
FROM grid_region WHERE code = 'C1';
INSERT INTO event_case (id, number, status, category_id, description, geom, cell_id,
                        created_at, updated_at)
SELECT g, 'SEED-' || g, CASE WHEN g = 1 THEN 'dispatched' ELSE 'closed' END,
       (SELECT id FROM category WHERE code = '9901'), '路边垃圾',
       ST_SetSRID(ST_MakePoint(116.005, 39.005), 4326), (SELECT id FROM grid_cell),
       now() - g * interval '2 days', now() - g * interval '2 days' + interval '3 hours'
FROM generate_series(1, 100) g;
SELECT setval('event_case_id_seq', 100);
INSERT INTO report (report_uuid, case_id, original_case_id, geom, description, created_at)
SELECT gen_random_uuid(), id, id, geom, description, created_at FROM event_case;
INSERT INTO case_transition (case_id, action, to_status, at)
SELECT id, a, 'closed', created_at + n * interval '1 hour'
FROM event_case, unnest(ARRAY['report', 'file', 'close']) WITH ORDINALITY AS x(a, n);
INSERT INTO case_photo (case_id, report_id, transition_id, storage_key, content_type,
                        size_bytes, sha256)
SELECT r.case_id, r.id, (SELECT min(id) FROM case_transition t WHERE t.case_id = r.case_id),
       gen_random_uuid(), 'image/jpeg', 1, 'x'
FROM report r WHERE mod(r.id, 10) = 0;
INSERT INTO notification (user_id, case_id, kind, title, created_at)
SELECT (SELECT id FROM app_user WHERE username = 'seed-inspector'), id, 'seed', '通知', created_at
FROM event_case;
INSERT INTO webhook (url, secret) VALUES ('http://127.0.0.1:9/hook', 'secret');
INSERT INTO webhook_delivery (webhook_id, event_id, kind, payload, next_attempt_at, created_at)
SELECT (SELECT id FROM webhook), gen_random_uuid(), 'seed', '{}', created_at, created_at
FROM event_case;
INSERT INTO webhook_attempt (delivery_id, at, duration_ms)
SELECT id, created_at, 1 FROM webhook_delivery;
"""
SEEDED_COUNTS = {
    "event_case": 100,
    "report": 100,
    "case_transition": 300,
    "case_photo": 10,
    "notification": 100,
    "webhook_attempt": 100,
}


@pytest.fixture(scope="module")
def seeded_url(server_url: str) -> Iterator[str]:
    """A database filled on plain tables, then migrated to monthly partitions in place."""
    with throwaway_database(server_url) as url:
        citygrid_cli.migrate(url, PLAIN_REVISION)
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql(SEED)
        engine.dispose()
        citygrid_cli.migrate(url)
        yield url
