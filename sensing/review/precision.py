"""Precision per algorithm (and version), device type and month: which detectors to trust.

Each alarm that was acted on is judged once, the first that applies:
rejected — a dispatcher rejected it as a false alarm, or its case was not filed or cancelled;
verified — its case was closed after the on-site check (a person's or the camera's);
confirmed — a dispatcher confirmed it, or its case is still on its way;
pending — waiting for review.
precision = (confirmed + verified) / (confirmed + verified + rejected), None without any.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

PRECISION = text("""
    WITH judged AS (
        SELECT coalesce(a.algorithm, '') AS algorithm,
               coalesce(a.algorithm_version, '') AS algorithm_version,
               d.device_type,
               to_char(a.at AT TIME ZONE :zone, 'YYYY-MM') AS month,
               CASE
                   WHEN a.outcome = 'review' THEN 'pending'
                   WHEN a.outcome = 'rejected' OR c.status IN ('not_filed', 'cancelled')
                       THEN 'rejected'
                   WHEN c.status = 'closed' THEN 'verified'
                   ELSE 'confirmed'
               END AS judgement
        FROM sensing_alarm a JOIN sensing_device d ON d.id = a.device_id
             LEFT JOIN event_case c ON c.id = a.case_id
        WHERE a.kind = 'alarm'
          AND a.outcome IN ('filed', 'folded', 'confirmed', 'rejected', 'review')
          AND (CAST(:month AS text) IS NULL
               OR to_char(a.at AT TIME ZONE :zone, 'YYYY-MM') = CAST(:month AS text))
    )
    SELECT algorithm, algorithm_version, device_type, month,
           count(*) FILTER (WHERE judgement = 'confirmed') AS confirmed,
           count(*) FILTER (WHERE judgement = 'rejected') AS rejected,
           count(*) FILTER (WHERE judgement = 'verified') AS verified,
           count(*) FILTER (WHERE judgement = 'pending') AS pending
    FROM judged
    GROUP BY algorithm, algorithm_version, device_type, month
    ORDER BY month, device_type, algorithm, algorithm_version
""")


@dataclass(frozen=True)
class PrecisionRow:
    algorithm: str | None  # None: a device's own rule (MQTT), no algorithm
    algorithm_version: str | None
    device_type: str
    month: str
    confirmed: int
    rejected: int
    verified: int
    pending: int

    @property
    def precision(self) -> float | None:
        judged = self.confirmed + self.verified + self.rejected
        return round((self.confirmed + self.verified) / judged, 4) if judged else None


def precision(session: Session, *, month: str | None, zone: str) -> list[PrecisionRow]:
    rows = session.execute(PRECISION, {"month": month, "zone": zone}).all()
    return [
        PrecisionRow(
            algorithm=row.algorithm or None,
            algorithm_version=row.algorithm_version or None,
            device_type=row.device_type,
            month=row.month,
            confirmed=row.confirmed,
            rejected=row.rejected,
            verified=row.verified,
            pending=row.pending,
        )
        for row in rows
    ]
