"""What every connection of the application's engine is set up with."""

from __future__ import annotations

from sqlalchemy import Engine, text


def test_jit_is_off_on_every_connection_even_after_a_rollback(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.scalar(text("SHOW jit")) == "off"
        connection.rollback()
        assert connection.scalar(text("SHOW jit")) == "off"
