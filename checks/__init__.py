"""Built-in v4doctor checks, one module per area. Installed as the `v4doctor_checks` package
(never as a bare `checks`), and found through the `v4doctor.checks` entry points like any plugin."""
