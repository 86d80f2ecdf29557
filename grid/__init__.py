"""The unit grid (单元网格): districts, streets, communities and cells."""
