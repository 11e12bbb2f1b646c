"""Reports: the declared cross-domain read side.

The one place that reads several domains at once: the day sheet (visits with
what each patient owes), the practice reports (no-shows, productivity,
coverage, labs) and the report runner. Nothing below imports it.
"""
