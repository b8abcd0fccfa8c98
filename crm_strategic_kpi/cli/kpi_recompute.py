"""``odoo kpi_recompute -d DB [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--kpi CODE,...]``

Recompute the strategic KPIs from the command line (a full recompute unless
limited) and commit."""

# A command line tool: it reports on stdout and commits its own work.
# pylint: disable=print-used,invalid-commit

import logging
import optparse
import sys

from odoo import api
from odoo.cli.command import Command
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.tools import config

_logger = logging.getLogger(__name__)


class KpiRecompute(Command):
    """Recompute the strategic CRM KPIs"""

    name = "kpi_recompute"

    def run(self, cmdargs):
        parser = config.parser
        parser.prog = self.prog
        group = optparse.OptionGroup(parser, "KPI recompute")
        group.add_option("--from", dest="kpi_from", help="first month (a date)")
        group.add_option("--to", dest="kpi_to", help="last month (a date)")
        group.add_option("--kpi", dest="kpi_codes", help="comma-separated KPI codes")
        group.add_option(
            "--start-goals",
            dest="start_goals",
            action="store_true",
            help="then start the draft goals that are SMART (the demo's)",
        )
        parser.add_option_group(group)
        opt = config.parse_config([*cmdargs, "--no-http"], setup_logging=True)
        dbnames = config["db_name"]
        if len(dbnames) != 1:
            sys.exit("Give exactly one database with -d.")
        registry = Registry(dbnames[0])
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            try:
                summary = env["crm.kpi.run"].recompute(
                    date_from=opt.kpi_from,
                    date_to=opt.kpi_to,
                    kpi_codes=opt.kpi_codes.split(",") if opt.kpi_codes else None,
                )
            except (UserError, ValueError) as exc:
                # a refusal (another run holds the lock, an unknown KPI, a
                # bad period) is one line, not a traceback
                cr.rollback()
                sys.exit(f"kpi_recompute: {exc}")
            env["res.partner"]._cron_refresh_customers()
            if opt.start_goals:
                for goal in env["crm.kpi.goal"].search([("state", "=", "draft")]):
                    if not goal._get_missing_criteria():
                        goal._capture_baseline()
                        if goal.has_baseline:
                            try:
                                goal.action_start()
                            except UserError as exc:
                                print(f"goal {goal.name!r} not started: {exc}")
            env["crm.kpi.goal"]._cron_update_goals()
            cr.commit()
        rows = sum(summary["rows"].values())
        print(
            f"{rows} figures of {len(summary['rows'])} KPIs "
            f"in {summary['seconds']:.1f} s"
        )
