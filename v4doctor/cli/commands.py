"""Subcommands. Each module defines HELP, add_arguments(parser) and run(args) -> exit code.

Modules stay light at import time (argparse only); heavy imports happen inside run().
"""

# name -> module under v4doctor.cli; a module that does not exist yet is skipped.
COMMANDS = {
    "run": "run",
    "snapshot": "snapshot",
    "checks": "checks",
    "models": "models",
    "explain": "explain",
    "fit": "fit",
    "plan": "plan",
    "fix": "fix",
    "diagnose": "diagnose",
    "gguf": "gguf",
    "probe": "probe",
    "serve": "serve",
}
