"""A plugin for tests: appends every event hook call to $MEDSEC_TEST_EVENTS (JSON lines)."""

import json
import os

from medsec import hookimpl


def _log(hook, **data):
    with open(os.environ["MEDSEC_TEST_EVENTS"], "a") as f:
        f.write(json.dumps({"hook": hook, **data}) + "\n")


@hookimpl
def appointment_booked(appointment):
    _log("appointment_booked", id=appointment["id"])


@hookimpl
def appointment_cancelled(appointment, offers):
    _log("appointment_cancelled", id=appointment["id"], offers=[o["patient_id"] for o in offers])


@hookimpl
def appointment_status_changed(appointment, old_status):
    _log("appointment_status_changed", id=appointment["id"], old=old_status, new=appointment["status"])
