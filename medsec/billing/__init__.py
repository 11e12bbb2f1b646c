"""Billing: what the practice is owed and how it is paid.

Owns charges, payments and adjustments (accounts), claims and their
scrubber, claim export and batches, remittance posting, statements,
invoices and aging. It reads scheduling (the visit a charge is for),
records and communications (sending a statement).
"""
