"""The HTTP face: FastAPI routes over `v4doctor.api` (validate, call, answer)."""
