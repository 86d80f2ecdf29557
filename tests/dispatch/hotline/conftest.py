"""The hotline world fixture for these tests."""

from tests.dispatch.hotline.support import world

__all__ = ["world"]
