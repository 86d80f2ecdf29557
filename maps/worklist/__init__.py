"""The map of a work list: the listed cases as clustered markers over a labelled base layer."""
