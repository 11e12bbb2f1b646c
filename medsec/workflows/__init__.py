"""Workflows: the office's open loops.

Owns lab orders and results, referrals, refill requests, tasks, the care
team (who a patient's physician is) and staff meetings. It reads records,
scheduling and communications; it does not read billing.
"""
