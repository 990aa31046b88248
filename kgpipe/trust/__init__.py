"""Trusting facts: the judge that verifies each triple against its text, its calibration, and conflict marks."""
