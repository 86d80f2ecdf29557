"""`citygrid hotline import FILE` and `citygrid hotline keys …`."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from openpyxl import Workbook  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from events.hotline.models import HotlineCaller, HotlineSource, HotlineTicket
from events.models import Case
from tests.events.hotline.support import PHONE
from tests.events.intake.support import seed_intake
from tests.grid.places import CELL_NE, CELL_SW, centre_of

RunCli = Callable[..., Result]
HEADER_ZH = ["工单编号", "受理时间", "诉求类型", "紧急程度", "诉求内容", "来电人", "联系电话"]
HEADER_ZH += ["诉求地址", "经度", "纬度", "坐标系", "问题分类"]


def rows_zh() -> list[list[str]]:
    ne, sw = centre_of(CELL_NE), centre_of(CELL_SW)
    return [
        [
            "IMP-001",
            "2026-12-05 08:30",
            "投诉",
            "一般",
            "路灯不亮",
            "李四",
            PHONE,
            "多福巷2号",
            str(ne[0]),
            str(ne[1]),
            "wgs84",
            "",
        ],
        [
            "IMP-002",
            "2026/12/05 09:00",
            "咨询",
            "一般",
            "垃圾分类时间",
            "王五",
            "13900001111",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "IMP-003",
            "2026-12-05T10:00:00+08:00",
            "求助",
            "水电气热",
            "停水",
            "赵六",
            "13700002222",
            "多福巷3号",
            str(sw[0]),
            str(sw[1]),
            "WGS-84",
            "",
        ],
    ]


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def summary(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def test_a_csv_with_chinese_headers_is_imported_once(
    run_cli: RunCli, session: Session, tmp_path: Path
) -> None:
    seed_intake(session)
    path = write_csv(tmp_path / "tickets.csv", HEADER_ZH, rows_zh())
    first = summary(run_cli("hotline", "import", str(path)))
    assert first["added"] == 3
    assert first["by_status"] == {"filed": 2, "recorded": 1}
    again = summary(run_cli("hotline", "import", str(path)))
    assert again["added"] == 0 and again["already_stored"] == 3
    assert session.scalar(select(func.count()).select_from(HotlineTicket)) == 3
    assert session.scalar(select(func.count()).select_from(Case)) == 2
    utilities = session.scalar(
        select(HotlineTicket).where(HotlineTicket.ticket_number == "IMP-003")
    )
    assert utilities is not None and utilities.urgency_class == "utilities"
    assert utilities.ticket_type == "help"
    caller = session.get(HotlineCaller, utilities.id)
    assert caller is not None and caller.name == "赵六"
    assert PHONE not in first.__repr__()


def test_an_excel_file_with_english_headers_is_imported(
    run_cli: RunCli, session: Session, tmp_path: Path
) -> None:
    seed_intake(session)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(
        [
            "ticket_number",
            "received_at",
            "ticket_type",
            "urgency_class",
            "content",
            "caller_name",
            "caller_phone",
            "lon",
            "lat",
        ]
    )
    ne = centre_of(CELL_NE)
    from datetime import datetime

    sheet.append(
        [
            "X-1",
            datetime(2026, 12, 5, 8, 0),
            "complaint",
            "emergency",
            "井盖丢失",
            "钱七",
            13812345678,
            ne[0],
            ne[1],
        ]
    )
    path = tmp_path / "tickets.xlsx"
    workbook.save(path)
    result = summary(run_cli("hotline", "import", str(path)))
    assert result["added"] == 1 and result["by_status"] == {"filed": 1}
    ticket = session.scalar(select(HotlineTicket).where(HotlineTicket.ticket_number == "X-1"))
    assert ticket is not None
    assert ticket.received_at.isoformat() == "2026-12-05T00:00:00+00:00"  # 08:00 in Beijing
    caller = session.get(HotlineCaller, ticket.id)
    assert caller is not None and caller.phone == "13812345678"


def test_a_file_with_problems_imports_nothing_and_lists_each(
    run_cli: RunCli, session: Session, tmp_path: Path
) -> None:
    seed_intake(session)
    rows = rows_zh()
    rows[0][2] = "抱怨"  # not a type
    rows[1][1] = "昨天"  # not a time
    rows[2][0] = "IMP-001"  # repeats row 2
    path = write_csv(tmp_path / "bad.csv", HEADER_ZH, rows)
    result = run_cli("hotline", "import", str(path))
    assert result.exit_code == 1
    assert "row 2, column 诉求类型" in result.output
    assert "row 3, column 受理时间" in result.output
    assert "row 4, column 工单编号: ticket number repeats row 2" in result.output
    assert session.scalar(select(func.count()).select_from(HotlineTicket)) == 0


def test_a_gbk_csv_is_refused_with_the_way_out(
    run_cli: RunCli, session: Session, tmp_path: Path
) -> None:
    seed_intake(session)
    path = write_csv(tmp_path / "gbk.csv", HEADER_ZH, rows_zh(), encoding="gbk")
    refused = run_cli("hotline", "import", str(path))
    assert refused.exit_code == 1
    assert "GBK" in refused.output and "--encoding GBK" in refused.output
    accepted = summary(run_cli("hotline", "import", str(path), "--encoding", "GBK"))
    assert accepted["added"] == 3


@pytest.mark.parametrize("missing", ["工单编号", "诉求内容"])
def test_a_file_without_a_required_column_is_refused(
    run_cli: RunCli, session: Session, tmp_path: Path, missing: str
) -> None:
    header = [name for name in HEADER_ZH if name != missing]
    index = HEADER_ZH.index(missing)
    rows = [row[:index] + row[index + 1 :] for row in rows_zh()]
    result = run_cli("hotline", "import", str(write_csv(tmp_path / "x.csv", header, rows)))
    assert result.exit_code == 1 and missing in result.output


def test_keys_are_issued_listed_and_revoked(run_cli: RunCli, session: Session) -> None:
    issued = run_cli("hotline", "keys", "issue", "--name", "北京12345")
    assert issued.exit_code == 0, issued.output
    secret = issued.stdout.strip().splitlines()[-1]
    source = session.scalar(select(HotlineSource).where(HotlineSource.name == "北京12345"))
    assert source is not None and secret.startswith(source.key_prefix)
    assert secret not in source.key_hash
    listed = run_cli("hotline", "keys", "list")
    assert "北京12345" in listed.output and "active" in listed.output
    revoked = run_cli("hotline", "keys", "revoke", str(source.id))
    assert revoked.exit_code == 0
    assert "revoked" in run_cli("hotline", "keys", "list").output
    assert run_cli("hotline", "keys", "revoke", "999999").exit_code == 1
