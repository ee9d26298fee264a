"""v4doctor: the pre-deploy doctor and log diagnostician for DeepSeek V4.

Heavy modules load lazily: `import v4doctor` costs almost nothing, and the
public API (`diagnose`, `check`, `fix`) is imported on first use.
"""

__version__ = "0.1.0"

_LAZY = {
    "diagnose": ("v4doctor.api", "diagnose"),
    "check": ("v4doctor.api", "check"),
    "fix": ("v4doctor.api", "fix"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'v4doctor' has no attribute {name!r}")
