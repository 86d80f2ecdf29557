"""Maps: Folium maps and hotspots."""
