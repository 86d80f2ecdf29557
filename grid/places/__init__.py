"""The address gazetteer (places) and the Chinese address matcher."""
