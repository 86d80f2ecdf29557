"""Middleware every response passes through (hardening, request ids, logs)."""

from __future__ import annotations

from fastapi import FastAPI

from citygrid.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware to the app (called once by create_app)."""
