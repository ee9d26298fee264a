"""Checks: memory."""

from v4doctor.api_check import check, error, warning, info  # noqa: F401
