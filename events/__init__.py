"""Events: taxonomy, reports, cases and their lifecycle."""
