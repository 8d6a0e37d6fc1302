"""Reusable search spaces (installed as `nasfw.search_spaces`)."""
