"""The emerging hot spot map: page, table view, CSV and JSON over `analysis.emerging`."""
