"""The check-authoring API at its original path; it lives in `v4doctor.judge.authoring` (docs/checks.md)."""

from v4doctor.judge.authoring import *  # noqa: F401,F403
from v4doctor.judge.authoring import __all__  # noqa: F401
