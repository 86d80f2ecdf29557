"""Open311 GeoReport v2: services are categories, requests are cases (see README)."""
