"""Fleets: check a whole Ray cluster before a multi-node deploy (`v4doctor run --ray ADDRESS`).

    from v4doctor.fleet import gather_fleet, judge_fleet
    fleet = gather_fleet("auto", target)          # one pinned Ray task per alive node (gather.py)
    report = judge_fleet(fleet, target)           # per-node checks + fleet checks (report.py)

Ray is imported only by `gather_fleet`; judging a recorded fleet needs no Ray.
"""

from v4doctor.fleet.gather import INSTALL_HINT, gather_fleet, import_ray
from v4doctor.fleet.report import FleetReport, judge_fleet

__all__ = ["gather_fleet", "judge_fleet", "import_ray", "FleetReport", "INSTALL_HINT"]
