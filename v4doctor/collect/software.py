"""Placeholder: replaced by the real collector."""
from v4doctor.facts import Unknown


def collect_python():
    return Unknown("python collector not written yet")


def collect_binaries():
    return {}
