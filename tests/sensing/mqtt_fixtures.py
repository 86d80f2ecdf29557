"""A real mosquitto for the tests: Debian's, on a free port, in a temporary folder of its own."""

from __future__ import annotations

from citygrid.broker import free_port, temporary_broker

private_broker = temporary_broker
__all__ = ["free_port", "private_broker"]
