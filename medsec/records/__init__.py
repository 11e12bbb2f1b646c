"""Records: who the practice serves and who works there.

Owns patients (registration, demographics, coverages, notes, attachments,
duplicates and merges, import and export) and the staff roster (roles,
working hours, time off). Every other domain finds people through it.
"""
