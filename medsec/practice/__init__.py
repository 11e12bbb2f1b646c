"""The practice as a whole: creating a data directory and the synthetic demo
practice (staff, patients, a few weeks of appointments)."""
