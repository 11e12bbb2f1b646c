"""Scheduling: the physicians' calendar.

Owns working hours and availability, free slots, booking, rescheduling,
cancelling, check-in and visit status, walk-ins, the waitlist, and the
iCalendar export and import. It reads records (patients, staff); it knows
nothing of billing or messages.
"""
