"""Emerging hot spot analysis: a space-time cube of case counts, Gi* per period, a Mann-Kendall
trend per location and the ArcGIS / sfdep categories."""
