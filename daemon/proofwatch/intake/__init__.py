"""Intake: which files are photos, reading them safely, and the queue of work."""
