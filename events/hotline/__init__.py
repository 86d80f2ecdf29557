"""12345 hotline tickets: intake, location, filing, callers (personal data apart)."""
