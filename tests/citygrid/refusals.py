"""Reading a 422 whichever way it was refused: by a parameter's declaration (FastAPI's list,
`{"detail": [{"loc": [..., "field"], "msg": ...}]}`) or by a domain check (`{"detail": ...,
"field": ...}`). Declared constraints (citygrid/api_types.py) answer the first way."""

from __future__ import annotations

from typing import Any


def refused_field(response: Any) -> str:
    """The input a refusal names: the domain error's `field`, or the declaration's last `loc`."""
    body = response.json()
    if isinstance(body["detail"], list):  # the last name in the location, not a list index
        return next(
            str(part) for part in reversed(body["detail"][0]["loc"]) if isinstance(part, str)
        )
    return str(body["field"])


def refusal_text(response: Any) -> str:
    """What a refusal says: the domain error's detail, or the declaration's messages."""
    detail = response.json()["detail"]
    if isinstance(detail, list):
        return "; ".join(f"{error['loc'][-1]}: {error['msg']}" for error in detail)
    return str(detail)
