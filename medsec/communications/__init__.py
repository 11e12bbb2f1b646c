"""Communications: everything that reaches a person.

Owns the outbox and channels (messaging), appointment reminders and
follow-ups, phone calls and messages taken, faxes, post and email letters,
memos and meeting invitations. It reads scheduling and records.
"""
