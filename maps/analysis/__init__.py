"""The analysis hub: one page that leads managers to every analysis the city has."""
