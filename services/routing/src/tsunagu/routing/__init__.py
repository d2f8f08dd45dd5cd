"""Routing: rules that refer each case to every programme it needs, and follow each referral."""
