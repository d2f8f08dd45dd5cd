"""Intake's pure domain: furigana, dates, duplicates, the case body and access rules."""
