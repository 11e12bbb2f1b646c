"""Coding: the code systems the practice bills and documents with.

Owns code look-ups and searches across the tables that plugins register
(ICD-10-CM, HCPCS, the practice's CPT list) and `code import`.
"""
