"""The repair layer: fixers and the fix loop (above the judge)."""
