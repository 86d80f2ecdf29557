"""Analysis over the city's cases: emerging hot spots and forecasts (above dispatch, below maps)."""
