"""citygrid: grid-based city management on PostGIS."""
