"""Runs: the nightly schedule, the queue of changed days and its hooks, the lock."""

import json
from datetime import date, datetime

import psycopg2
from freezegun import freeze_time

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import index_exists, mute_logger

from odoo.addons.crm_strategic_kpi.engine import RUN_STATE_PARAM
from odoo.addons.crm_strategic_kpi.models.crm_kpi_run import RECOMPUTE_LOCK

from .common import KpiCommon

JAN, FEB, MAR, APR = (date(2026, m, 1) for m in range(1, 5))


@tagged("post_install", "-at_install")
class TestKpiRuns(KpiCommon):
    def test_nightly_run_planned_at_two_in_company_time(self):
        cron = self.env.ref("crm_strategic_kpi.ir_cron_recompute_kpis")
        with freeze_time("2026-01-10 12:00:00"):
            self.env["crm.kpi.changed.day"]._schedule_nightly_run()
        # 02:00 CET is 01:00 UTC
        self.assertEqual(cron.nextcall, datetime(2026, 1, 11, 1, 0))
        with freeze_time("2026-07-10 23:30:00"):  # 01:30 CEST on 11 July
            self.env["crm.kpi.changed.day"]._schedule_nightly_run()
        self.assertEqual(cron.nextcall, datetime(2026, 7, 11, 0, 0))

    def test_interrupted_run_resumes_with_remaining_kpis(self):
        with freeze_time("2026-04-15 10:00:00"):
            state = self.env["crm.kpi.changed.day"]._take_queue(APR)
            state["done"] = [c for c in state["codes"] if c != "won_count"]
            self.env["ir.config_parameter"].set_param(
                RUN_STATE_PARAM, json.dumps(state)
            )
            summary = self.env["crm.kpi.changed.day"]._run_incremental()
        self.assertEqual(list(summary["rows"]), ["won_count"])
        self.assertFalse(self.env["ir.config_parameter"].get_param(RUN_STATE_PARAM))
        # the queue was consumed at the start of the interrupted run: its
        # months (all of Jan..Apr, from the fixture's changes) were computed
        self.assertMonths("won_count", {1: (2, 0, 2), 2: (1, 0, 1), 3: (1, 0, 1)})

    def test_records_created_counts_partners_of_the_computed_months(self):
        """Partners count in the local month of their creation, also in a run
        that starts with that month (it reads partners from a day before)."""
        early, late = self.env["res.partner"].create(
            [{"name": "Neu GmbH"}, {"name": "Spät GmbH"}]
        )
        # 23:30 UTC on 28 February is 1 March in Berlin; 22:30 UTC on
        # 31 March is 1 April
        self._sql_dates("res_partner", early, create_date=datetime(2026, 2, 28, 23, 30))
        self._sql_dates("res_partner", late, create_date=datetime(2026, 3, 31, 22, 30))
        self.recompute(date_from=MAR)
        # March: leads L6, L7 and the early partner; April: the late one
        self.assertMonths("records_created", {3: (3, 0, 3), 4: (1, 0, 1)})

    def test_done_activities_have_an_index(self):
        """The engine counts done activities from a partial index of their
        own: the installation creates it on the deals' messages that carry an
        activity type. (Whether the planner prefers it to mail's own index on
        model and record for one deal depends on the table's statistics: the
        definition is checked, not a plan.)"""
        self.assertTrue(
            index_exists(self.cr, "crm_kpi_mail_message_done_activity_index")
        )
        self.cr.execute(
            """SELECT indexdef FROM pg_indexes
                WHERE indexname = 'crm_kpi_mail_message_done_activity_index'"""
        )
        definition = self.cr.fetchone()[0]
        self.assertIn("ON public.mail_message USING btree (res_id)", definition)
        self.assertIn("(model)::text = 'crm.lead'::text", definition)
        self.assertIn("mail_activity_type_id IS NOT NULL", definition)

    def test_partner_creation_dates_have_an_index(self):
        """The nightly run reads the partners created in its months (records
        created) from a range of an index on their creation date."""
        self.assertTrue(index_exists(self.cr, "crm_kpi_res_partner_create_date_index"))
        self.cr.execute("SET LOCAL enable_seqscan = off")
        self.cr.execute(
            "EXPLAIN SELECT id FROM res_partner WHERE create_date >= '2026-03-01'"
        )
        plan = "\n".join(row[0] for row in self.cr.fetchall())
        self.cr.execute("RESET enable_seqscan")
        self.assertIn("crm_kpi_res_partner_create_date_index", plan)

    def test_partner_merge_queues_the_moved_deals(self):
        """Merging partners moves their leads with SQL updates: the days of
        those leads are queued, so the nightly run recomputes their months
        (from the leads, not from the kept customer history). X (salesperson
        u2) won on 8 January; merged into D (no salesperson), January has
        one new customer of u2 left (B) instead of two."""
        with freeze_time("2026-04-15 10:00:00"):
            cust_x = self.env["res.partner"].create(
                {"name": "X GmbH", "is_company": True, "user_id": self.user2.id}
            )
            self._deal(
                "X1",
                cust_x,
                self.team2,
                self.user2,
                datetime(2026, 1, 3, 12),
                won=datetime(2026, 1, 8, 12),
                revenue=100,
            )
            self.recompute()
            self.assertEqual(
                self.month_value("new_customers", JAN, user_id=self.user2.id)[0], 2
            )
            Queue = self.env["crm.kpi.changed.day"]
            Queue.search([]).unlink()
            self.env["base.partner.merge.automatic.wizard"].create({})._merge(
                (cust_x | self.cust_d).ids, self.cust_d
            )
            self.assertIn(date(2026, 1, 8), Queue.search([]).mapped("day"))
            summary = self.env["crm.kpi.changed.day"]._run_incremental()
            self.assertEqual(summary["history"], "kept")
            self.env.invalidate_all()
            self.assertEqual(
                self.month_value("new_customers", JAN, user_id=self.user2.id)[0], 1
            )

    def test_team_moving_to_another_company_queues_its_deals(self):
        """A deal without a company of its own belongs to its team's company
        (else the main one). H1 (700, won 10 January, team T3 without a
        company) moves to company 2 with its team: the days of its deals are
        queued under both companies, and the nightly run moves its figures.
        Deleting the team queues them again (the deal falls back to the main
        company)."""
        Queue = self.env["crm.kpi.changed.day"]
        with freeze_time("2026-04-15 10:00:00"):
            company2 = self.env["res.company"].create({"name": "Zweite GmbH"})
            team3 = self.env["crm.team"].create({"name": "T3", "company_id": False})
            cust_h = self.env["res.partner"].create(
                {"name": "H GmbH", "is_company": True}
            )
            h1 = self._deal(
                "H1",
                cust_h,
                team3,
                False,
                datetime(2026, 1, 5, 12),
                won=datetime(2026, 1, 10, 12),
                revenue=700,
            )
            self._sql_dates("crm_lead", h1, company_id=None)
            self.recompute()
            self.assertEqual(self.month_value("won_revenue", JAN)[0], 3700)
            Queue.search([]).unlink()
            team3.company_id = company2
            queued = {(q.company_id, q.day) for q in Queue.search([])}
            self.assertEqual(
                queued,
                {
                    (company, day)
                    for company in (self.company, company2)
                    for day in (date(2026, 1, 5), date(2026, 1, 10))
                },
            )
            self.env["crm.kpi.changed.day"]._run_incremental()
            self.env.invalidate_all()
            self.assertEqual(self.month_value("won_revenue", JAN)[0], 3000)
            self.assertMonths("won_revenue", {1: (700, 0, 700)}, company=company2)
            team3.unlink()
            queued = {(q.company_id, q.day) for q in Queue.search([])}
            self.assertEqual(
                queued,
                {
                    (company, day)
                    for company in (self.company, company2)
                    for day in (date(2026, 1, 5), date(2026, 1, 10))
                },
            )

    def test_settings_changes_queue_every_month(self):
        """A company's churn period, CLV margin and timezone change every
        month's figures: a change queues the middle of each month from the
        first with data (December 2024, L0's creation) to the current one,
        and the next nightly run recomputes them all. Saving the same value
        queues nothing."""
        Queue = self.env["crm.kpi.changed.day"]
        with freeze_time("2026-04-15 10:00:00"):
            expected = [
                date(2024, 12, 15),
                *(date(2025, month, 15) for month in range(1, 13)),
                *(date(2026, month, 15) for month in range(1, 5)),
            ]
            for values in (
                {"kpi_churn_days": 90},
                {"kpi_clv_margin": 40},
                {"partner_id": {"tz": "Europe/Lisbon"}},
            ):
                Queue.search([]).unlink()
                for name, value in values.items():
                    if name == "partner_id":
                        self.company.partner_id.write(value)
                    else:
                        self.company.write({name: value})
                self.assertEqual(
                    sorted(Queue.search([]).mapped("day")), expected, values
                )
            Queue.search([]).unlink()
            self.company.write({"kpi_churn_days": 90, "kpi_clv_margin": 40})
            self.company.partner_id.tz = "Europe/Lisbon"
            self.assertFalse(Queue.search([]))
            # the nightly run after the margin fell from 50 to 20 % recomputes
            # every month: the 12-month revenues of test_clv times 0.2
            self.company.write({"kpi_churn_days": 60, "kpi_clv_margin": 50})
            self.recompute()
            self.company.kpi_clv_margin = 20
            summary = self.env["crm.kpi.changed.day"]._run_incremental()
            self.assertEqual(summary["history"], "kept")
            self.env.invalidate_all()
            self.assertMonths(
                "clv",
                {
                    1: (600, 2, 300),
                    2: (700, 2, 350),
                    3: (900, 2, 450),
                    4: (600, 1, 600),
                },
            )

    def test_queued_day_is_locked_until_its_change_commits(self):
        """A change queuing a day that is queued already locks its row until
        the change commits: a run taking the queue meanwhile waits for it
        instead of consuming the day without seeing the change."""
        company, day = self.company.id, date(1999, 1, 1)
        registry = self.env.registry
        with registry.cursor() as setup:
            setup.execute(
                "INSERT INTO crm_kpi_changed_day (company_id, day) VALUES (%s, %s)",
                (company, day),
            )
        try:
            with registry.cursor() as writer, registry.cursor() as taker:
                api.Environment(writer, SUPERUSER_ID, {})["crm.kpi.changed.day"]._mark(
                    [(company, day)]
                )
                taker.execute("SET lock_timeout = '300ms'")
                with (
                    self.assertRaises(psycopg2.errors.LockNotAvailable),
                    mute_logger("odoo.sql_db"),
                ):
                    taker.execute(
                        "DELETE FROM crm_kpi_changed_day WHERE day = %s", (day,)
                    )
                taker.rollback()
                writer.rollback()
        finally:
            with registry.cursor() as cleanup:
                cleanup.execute(
                    "DELETE FROM crm_kpi_changed_day WHERE day = %s", (day,)
                )

    def test_recompute_waits_for_no_one_but_refuses_overlap(self):
        # another transaction holds the lock: a manual run is refused clearly,
        # the nightly run skips with a log line
        with self.env.registry.cursor() as other:
            other.execute("SELECT pg_advisory_xact_lock(%s)", (RECOMPUTE_LOCK,))
            with self.assertRaises(UserError):
                self.recompute()
            with self.assertLogs(
                "odoo.addons.crm_strategic_kpi.models.crm_kpi_changed_day", "WARNING"
            ):
                self.assertIsNone(self.env["crm.kpi.changed.day"]._run_incremental())
            other.rollback()
