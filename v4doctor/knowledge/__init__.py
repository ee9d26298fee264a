"""The knowledge base: data files (TOML/JSON, each record with its sources) and their loader (`kb`)."""
