"""Default plugin: the manager's reports on no-shows, productivity, staff coverage and labs."""

from medsec.plugin_api import Report, hookimpl


def _period(build):
    """A report builder over options['start'] .. options['end']."""

    def run(app, options: dict):
        # imported when run (~10 ms): every command that builds the plugin manager loads this plugin
        from medsec.reports import practice as practice_reports

        return getattr(practice_reports, build)(app, options["start"], options["end"])

    return run


@hookimpl
def register_reports(register):
    register(Report("noshows", "no-show rate by provider, appointment type and weekday", _period("noshows")))
    register(Report("productivity", "per provider: visits seen, charges billed, collections",
                    _period("productivity")))
    register(Report("coverage", "booked hours with no provider or nurse; days with no front desk or nurse; "
                    "visits whose provider is away",
                    _period("coverage")))
    register(Report("labs", "lab orders by facility and status, and how many are overdue", _period("labs")))
