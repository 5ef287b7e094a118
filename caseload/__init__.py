"""Caseload runtime shell: settings, app factory, CLI, database, Redis, mail and security."""
