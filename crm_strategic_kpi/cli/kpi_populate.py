"""``odoo kpi_populate``: generate the strategic-KPI sample dataset.

Usage (Odoo finds the command through the addons path given first)::

    python3 -m odoo --addons-path=/path/to/repo,/path/to/odoo/addons \\
        kpi_populate -d DB --size small|medium|large [--seed N] [--method orm|sql]
        [--steps companies,sales --force]
"""

# A command line tool, loaded by Odoo as odoo.cli.kpi_populate (so no relative
# imports): it reports on stdout and commits its own work.
# pylint: disable=print-used,invalid-commit,odoo-addons-relative-import

import logging
import optparse
import sys

from odoo import SUPERUSER_ID, api
from odoo.cli import Command
from odoo.modules.registry import Registry
from odoo.tools import config

_logger = logging.getLogger(__name__)


class KpiPopulate(Command):
    """Generate realistic CRM data for the strategic KPIs (crm_strategic_kpi)"""

    name = "kpi_populate"

    def run(self, cmdargs):
        # imported here: the command module is loaded before the addons path
        from odoo.addons.crm_strategic_kpi.populate import (  # noqa: PLC0415
            DEFAULT_SEED,
            SIZES,
            PopulateError,
            populate,
        )

        parser = config.parser
        parser.prog = self.prog
        group = optparse.OptionGroup(parser, "KPI sample data")
        group.add_option(
            "--size",
            dest="kpi_size",
            choices=list(SIZES),
            my_default="small",
            help="small (500 customers, 5,000 leads), medium "
            "(20,000 / 100,000) or large (200,000 / 1,000,000)",
        )
        group.add_option(
            "--seed",
            dest="kpi_seed",
            type="int",
            my_default=DEFAULT_SEED,
            help="random seed: the same seed gives the same data "
            f"(default {DEFAULT_SEED})",
        )
        group.add_option(
            "--method",
            dest="kpi_method",
            choices=["orm", "sql"],
            help="store through the ORM or in bulk with COPY "
            "(default: orm for small, sql otherwise)",
        )
        group.add_option(
            "--customer-refresh",
            dest="kpi_refresh",
            choices=["yes", "no"],
            help="refresh the customers' lifecycle, RFM and NPS at the end "
            "(default: yes, except for the large size: the nightly cron does it)",
        )
        group.add_option(
            "--steps",
            dest="kpi_steps",
            help="comma-separated steps to run (default: all), e.g. "
            "companies,sales to add the orders of an installed bridge to a "
            "generated dataset (with --force)",
        )
        group.add_option(
            "--force",
            dest="kpi_force",
            action="store_true",
            my_default=False,
            help="add a dataset even if the database holds one",
        )
        parser.add_option_group(group)
        opt = config.parse_config(cmdargs, setup_logging=True)
        size = opt.kpi_size or "small"
        seed = DEFAULT_SEED if opt.kpi_seed is None else opt.kpi_seed
        overrides = {}
        if opt.kpi_refresh:
            overrides["refresh"] = opt.kpi_refresh == "yes"
        dbnames = config["db_name"]
        if len(dbnames) != 1:
            sys.exit("kpi_populate: give exactly one database with -d/--database.")
        registry = Registry(dbnames[0])
        if "crm.kpi.segment" not in registry:
            sys.exit(
                f"kpi_populate: crm_strategic_kpi is not installed in {dbnames[0]}; "
                "install it first (-i crm_strategic_kpi --stop-after-init)."
            )
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            try:
                ctx = populate(
                    env,
                    size=size,
                    seed=seed,
                    method=opt.kpi_method,
                    force=bool(opt.kpi_force),
                    steps=opt.kpi_steps and opt.kpi_steps.split(","),
                    **overrides,
                )
            except PopulateError as error:
                sys.exit(f"kpi_populate: {error}")
            cr.commit()
        print(
            f"kpi_populate: {size} dataset (seed {seed}, "
            f"{ctx.method}) generated in {ctx.timings['total']:.1f} s"
        )
        for model, count in ctx.counts.items():
            print(f"  {model:<34} {count:>10,}")
        steps = ", ".join(
            f"{name} {seconds:.1f}s"
            for name, seconds in ctx.timings.items()
            if name != "total"
        )
        print(f"  steps: {steps}")
