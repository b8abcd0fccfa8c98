"""``odoo kpi_bench -d DB [--changed-share 0.01]``

Benchmark of the KPI engine on a generated dataset, measured in one run:

* the full recompute of every KPI over all months, over the facts in place
  and into empty fact tables,
* the nightly incremental run after a share of the leads changed,
* with the sales bridge and orders in the database, the full and nightly
  runs again with confirmed sale orders as revenue source,
* pivot reads of the last 12 months: KPIs x months (served by the monthly
  totals) and KPIs x sales teams (summed from the facts),

each with wall seconds, the peak memory of this Odoo process during the step,
and the ratio to the raw-SQL floor: the plain aggregate queries over the same
tables that any implementation must at least run. Everything is rolled back.
"""

# A command line tool: it reports on stdout (and rolls its work back).
# pylint: disable=print-used

import logging
import optparse
import random
import sys
import time
from datetime import date

from dateutil.relativedelta import relativedelta

from odoo import api
from odoo.cli.command import Command
from odoo.modules.registry import Registry
from odoo.tools import config

# The floor of a full or incremental run: one scan of every source table with
# the groupings the KPIs need.
_logger = logging.getLogger(__name__)

FLOOR_QUERIES = [
    """SELECT date_trunc('month', create_date), company_id, team_id, user_id,
              campaign_id, source_id, medium_id, COUNT(*)
         FROM crm_lead GROUP BY 1, 2, 3, 4, 5, 6, 7""",
    """SELECT date_trunc('month', date_closed), company_id, team_id, user_id,
              won_status, COUNT(*), SUM(expected_revenue)
         FROM crm_lead WHERE date_closed IS NOT NULL GROUP BY 1, 2, 3, 4, 5""",
    """SELECT p.commercial_partner_id, date_trunc('month', l.date_closed),
              COUNT(*), SUM(l.expected_revenue)
         FROM crm_lead l JOIN res_partner p ON p.id = l.partner_id
        WHERE l.won_status = 'won' GROUP BY 1, 2""",
    """SELECT res_id, COUNT(*) FROM mail_message
        WHERE model = 'crm.lead' AND mail_activity_type_id IS NOT NULL
        GROUP BY 1""",
    """SELECT date_trunc('month', date), kind, SUM(score), COUNT(*)
         FROM crm_kpi_feedback GROUP BY 1, 2""",
    """SELECT date_trunc('month', date), category, SUM(amount)
         FROM crm_kpi_cost GROUP BY 1, 2""",
]
# with orders as revenue source, the scans of orders and their lines
ORDER_FLOOR_QUERIES = [
    """SELECT so.company_id, p.commercial_partner_id,
              date_trunc('month', so.date_order), COUNT(*), SUM(so.amount_untaxed)
         FROM sale_order so JOIN res_partner p ON p.id = so.partner_id
        WHERE so.state = 'sale' GROUP BY 1, 2, 3""",
    """SELECT so.company_id, so.partner_id, date_trunc('month', so.date_order),
              sol.product_id, SUM(sol.price_subtotal)
         FROM sale_order_line sol JOIN sale_order so ON so.id = sol.order_id
        WHERE so.state = 'sale' GROUP BY 1, 2, 3, 4""",
]
PIVOT_FLOOR = """
    SELECT kpi_id, date_trunc('month', date), SUM(numerator), SUM(denominator)
      FROM crm_kpi_value WHERE date >= %s GROUP BY 1, 2
"""
TEAM_PIVOT_FLOOR = """
    SELECT kpi_id, team_id, SUM(numerator), SUM(denominator)
      FROM crm_kpi_value WHERE date >= %s GROUP BY 1, 2
"""


def _reset_peak():
    """Reset the process's peak RSS (Linux ≥ 4.0), so each step reports its
    own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError as exc:
        _logger.warning("peak memory cannot be reset (%s): peaks are cumulative", exc)


def _peak_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _timed(func):
    _reset_peak()
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, _peak_mb(), result


class KpiBench(Command):
    """Benchmark the strategic KPI engine"""

    name = "kpi_bench"

    def run(self, cmdargs):
        parser = config.parser
        parser.prog = self.prog
        group = optparse.OptionGroup(parser, "KPI benchmark")
        group.add_option(
            "--changed-share",
            dest="changed_share",
            type="float",
            my_default=0.01,
            help="share of leads changed before the incremental run (default 0.01)",
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
                self._bench(env, opt.changed_share or 0.01)
            finally:
                cr.rollback()

    def _floor(self, env, queries=()):
        def run():
            for query in (*FLOOR_QUERIES, *queries):
                env.cr.execute(query)
                env.cr.fetchall()

        return _timed(run)[0]

    def _drill_down(self, values):
        """Opening the records behind facts: the largest fact of each of four
        KPIs (customers churned, won revenue, lifetime value, new leads) of
        the last complete month and of the same month a year earlier (the
        slowest of the four counts), then the 50 largest facts of that
        month at once. Floor: reading the month's won deals from the leads."""
        cr = values.env.cr
        codes = ["churn_rate", "won_revenue", "clv", "lead_count"]
        last = date.today().replace(day=1) - relativedelta(months=1)
        rows = []
        for label, month in (
            ("last complete month", last),
            ("a year before", last - relativedelta(months=12)),
        ):

            def floor(month=month):
                cr.execute(
                    """SELECT id FROM crm_lead WHERE won_status = 'won'
                          AND date_closed >= %s AND date_closed < %s""",
                    (month, month + relativedelta(months=1)),
                )
                return cr.fetchall()

            floor_seconds = _timed(floor)[0]
            slowest, top, found = 0.0, 0.0, 0
            for code in codes:
                fact = values.search(
                    [
                        ("kpi_code", "=", code),
                        ("date", "=", month),
                        ("numerator", "!=", 0),
                    ],
                    order="numerator desc",
                    limit=1,
                )
                seconds, peak, records = _timed(fact._get_numerator_records)
                slowest, top = max(slowest, seconds), max(top, peak)
                found += sum(len(ids) for ids in records.values())
            rows.append(
                (
                    f"drill-down (1 fact, {label})",
                    slowest,
                    top,
                    floor_seconds,
                    f"{found} records of 4 facts",
                )
            )
        facts = values.search(
            [("kpi_code", "in", codes), ("date", "=", last), ("numerator", "!=", 0)],
            order="numerator desc",
            limit=50,
        )
        seconds, peak, records = _timed(facts._get_numerator_records)
        rows.append(
            (
                f"drill-down ({len(facts)} facts at once)",
                seconds,
                peak,
                rows[0][3],
                f"{sum(len(ids) for ids in records.values())} records",
            )
        )
        return rows

    def _pivot(self, values, since, label, floor_sql, groupby):
        cr = values.env.cr

        def floor():
            cr.execute(floor_sql, (since,))
            return cr.fetchall()

        floor_seconds = _timed(floor)[0]
        seconds, peak, groups = _timed(
            lambda: values.formatted_read_group(
                [("date", ">=", since)], ["kpi_id", groupby], ["value:sum"]
            )
        )
        return (label, seconds, peak, floor_seconds, f"{len(groups)} cells")

    def _incremental(self, env, changed):
        cr = env.cr
        queue = env["crm.kpi.changed.day"]
        cr.execute("DELETE FROM crm_kpi_changed_day")
        Lead = env["crm.lead"].with_context(active_test=False, tracking_disable=True)
        for start in range(0, len(changed), 1000):
            # one ORM write per batch: the hooks queue the touched months
            # (a non-monetary field: a batch may span several currencies)
            Lead.browse(changed[start : start + 1000]).write(
                {"kpi_deal_type": "cross_sell"}
            )
            env.flush_all()
            env.invalidate_all()
        floor = self._floor(env)
        seconds, peak, summary = _timed(lambda: queue._run_incremental())
        return seconds, peak, summary, floor

    def _sale_order_source(self, env, runner, lead_ids, count):
        """With the sales bridge and orders in the database: the same runs
        with confirmed sale orders as every company's revenue source, beside
        those of won deals above (the switch first: every fact of a customer
        KPI changes)."""
        cr = env.cr
        if "sale.order" not in env:
            return []
        cr.execute("SELECT COUNT(*) FROM sale_order_line")
        lines = cr.fetchone()[0]
        if not lines:
            return []
        companies = env["res.company"].search([])  # pylint: disable=no-search-all
        companies.write({"kpi_revenue_source": "sale_order"})
        env.flush_all()
        floor = self._floor(env, ORDER_FLOOR_QUERIES)
        rows = []
        for label in ("switch to orders", "facts in place"):
            seconds, peak, summary = _timed(lambda: runner.recompute())
            facts = sum(summary["rows"].values())
            rows.append(
                (
                    f"full recompute, orders ({label})",
                    seconds,
                    peak,
                    floor,
                    f"{facts} facts, {lines} lines",
                )
            )
        seconds, peak, summary, floor = self._incremental(env, lead_ids[:count])
        rows.append(
            (
                f"incremental, orders ({count} recent leads)",
                seconds,
                peak,
                floor,
                f"{sum(summary['rows'].values())} facts",
            )
        )
        # orders entered or changed on a working day: the most recent ones
        cr.execute(
            "SELECT id FROM sale_order ORDER BY date_order DESC LIMIT %s", [count]
        )
        orders = env["sale.order"].browse([r[0] for r in cr.fetchall()])
        cr.execute("DELETE FROM crm_kpi_changed_day")
        orders._kpi_mark_dirty()
        env.flush_all()
        floor = self._floor(env)
        seconds, peak, summary = _timed(
            lambda: env["crm.kpi.changed.day"]._run_incremental()
        )
        rows.append(
            (
                f"incremental, orders ({len(orders)} recent orders)",
                seconds,
                peak,
                floor,
                f"{sum(summary['rows'].values())} facts",
            )
        )
        return rows

    def _bench(self, env, changed_share):
        cr = env.cr
        cr.execute("SELECT COUNT(*) FROM crm_lead")
        leads = cr.fetchone()[0]
        cr.execute(
            "SELECT COUNT(DISTINCT p.commercial_partner_id) FROM crm_lead l "
            "JOIN res_partner p ON p.id = l.partner_id WHERE l.won_status = 'won'"
        )
        customers = cr.fetchone()[0]
        print(f"dataset: {leads} leads, {customers} customers")
        values = env["crm.kpi.value"]
        runner = env["crm.kpi.run"]
        rows = []

        # A full recompute over facts already in place (the button, the CLI,
        # a nightly run after a change to old data) writes only the months
        # that changed; the very first one, into empty tables, writes all.
        floor = self._floor(env)
        for label in ("full recompute (facts in place)", "full recompute (no facts)"):
            if label.endswith("(no facts)"):
                cr.execute("TRUNCATE crm_kpi_value, crm_kpi_total")
            seconds, peak, summary = _timed(lambda: runner.recompute())
            facts = sum(summary["rows"].values())
            rows.append((label, seconds, peak, floor, f"{facts} facts"))

        # Change a share of the leads through the ORM, as users would: the
        # leads a working day touches (the most recent ones: open pipeline,
        # fresh deals), then the same number drawn from all 36 months (every
        # month dirty, so the run is as large as a full recompute).
        cr.execute("SELECT id FROM crm_lead ORDER BY create_date DESC, id DESC")
        ids = [r[0] for r in cr.fetchall()]
        count = max(1, int(len(ids) * changed_share))
        for label, changed in (
            ("recent", ids[:count]),
            ("random", random.Random(19).sample(ids, count)),
        ):
            seconds, peak, summary, floor = self._incremental(env, changed)
            facts = sum(summary["rows"].values())
            rows.append(
                (
                    f"incremental ({count} {label} leads changed)",
                    seconds,
                    peak,
                    floor,
                    f"{facts} facts",
                )
            )

        # what a KPI user's "Refresh now" does after a hundred deals changed
        # (the current month and the months of those deals)
        seconds, peak, summary, floor = self._incremental(env, ids[:100])
        facts = sum(summary["rows"].values())
        rows.append(
            (
                "refresh (100 recent deals changed)",
                seconds,
                peak,
                floor,
                f"{facts} facts",
            )
        )

        rows += self._drill_down(values)
        rows += self._sale_order_source(env, runner, ids, count)

        since = date.today().replace(day=1) - relativedelta(months=11)

        # by KPI and month the monthly totals answer; a grouping by a
        # dimension (sales team) reads the facts themselves
        for label, floor_sql, groupby in (
            ("pivot read (KPIs x 12 months)", PIVOT_FLOOR, "date:month"),
            ("pivot read (KPIs x sales teams, 12 months)", TEAM_PIVOT_FLOOR, "team_id"),
        ):
            rows.append(self._pivot(values, since, label, floor_sql, groupby))
        floor = rows[-2][3]  # the overview reads what the first pivot reads

        # the overview dashboard: favourite KPIs for this month and this year
        for period in ("month", "year"):
            seconds, peak, cards = _timed(
                lambda period=period: values.get_overview_data(period=period)
            )
            rows.append(
                (
                    f"overview dashboard ({period})",
                    seconds,
                    peak,
                    floor,
                    f"{len(cards['cards'])} cards",
                )
            )

        print(
            f"{'step':42} {'seconds':>9} {'peak MB':>9} "
            f"{'SQL floor':>10} {'ratio':>7}  size"
        )
        for name, seconds, peak, floor, size in rows:
            ratio = seconds / floor if floor else float("inf")
            print(
                f"{name:42} {seconds:9.2f} {peak:9.0f} "
                f"{floor:10.3f} {ratio:7.1f}  {size}"
            )
