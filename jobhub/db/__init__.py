"""Storage: the engine, the tables, the stores and the migrations."""
