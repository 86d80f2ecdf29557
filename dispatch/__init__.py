"""Dispatch: departments, routing rules, deadlines, escalation and evaluation."""
