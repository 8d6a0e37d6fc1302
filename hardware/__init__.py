"""Reusable cost models and their device data (installed as `nasfw.hardware`)."""
