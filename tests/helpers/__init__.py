"""Shared test code, imported as `helpers.<module>` (pyproject.toml puts tests/ on the path).

cli: run medsec; files: snapshots and shared data; practices: the practices tests start from;
templates: those practices built once per run and copied per test; backends: the end-to-end
suites on the data directory and on PostgreSQL (configuration documents, stored files); smtp,
gateway: loopback servers for the channel tests; x12: pyx12 as the judge of X12 files.
billingplugins, recorder, testchannel: plugins the tests load through MEDSEC_PLUGINS.
"""
