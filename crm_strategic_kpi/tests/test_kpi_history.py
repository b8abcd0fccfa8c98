"""The customer history kept between runs and the customer spells."""

import json
from datetime import date, datetime, timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.engine import RUN_STATE_PARAM, Run
from odoo.addons.crm_strategic_kpi.engine.history import SPELL_COLUMNS, WON_COLUMNS

from .common import KpiCommon

JAN, FEB, MAR, APR = (date(2026, m, 1) for m in range(1, 5))


@tagged("post_install", "-at_install")
class TestKeptHistory(KpiCommon):
    """The customer history kept between runs, activity spells, the
    customer-month basis and the lifespan."""

    def _figures(self, since=MAR):
        """The stored facts from month ``since`` on, in a comparable form."""
        self.env.flush_all()
        self.cr.execute(
            """
            SELECT kpi_code, date, company_id, team_id, user_id, segment_id,
                   campaign_id, source_id, medium_id,
                   ROUND(numerator::numeric, 6), ROUND(denominator::numeric, 6)
              FROM crm_kpi_value WHERE date >= %s
             ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
            """,
            (since,),
        )
        return self.cr.fetchall()

    def _long_history(self):
        """Deals years before the fixture's months, lifecycle spells and
        logins on both sides of March 2026; returns customer E."""
        # D: a deal long before (Feb 2025) and one in March 2026, so that
        # March needs D's whole history (a repeat customer)
        for name, created, won in (
            ("D-old", datetime(2025, 1, 10, 12), datetime(2025, 2, 10, 12)),
            ("D-new", datetime(2026, 3, 1, 12), datetime(2026, 3, 10, 12)),
        ):
            self._deal(
                name, self.cust_d, self.team1, self.user1, created, won=won, revenue=300
            )
        # A and C won their first deals years before (C through a campaign)
        for name, customer, won, campaign in (
            ("A-2022", self.cust_a, datetime(2022, 5, 10, 12), False),
            ("C-2023", self.cust_c, datetime(2023, 6, 10, 12), self.campaign.id),
        ):
            self._deal(
                name,
                customer,
                self.team2,
                self.user2,
                won - timedelta(days=20),
                won=won,
                revenue=50,
                campaign_id=campaign,
            )
        # E: a first deal in 2023, the next one in March 2026 (an upsell: the
        # run of recent months must still read E's first deal)
        cust_e = self.env["res.partner"].create(
            {"name": "E GmbH", "is_company": True, "user_id": self.user1.id}
        )
        for won in (datetime(2023, 4, 10, 12), datetime(2026, 3, 12, 12)):
            self._deal(
                "E", cust_e, self.team1, self.user1, won - timedelta(days=5), won=won
            )
        # lifecycle spells and logins on both sides of the first recent month
        self.stage_events(
            [
                (cust_e, "prospect", date(2025, 12, 15)),
                (cust_e, "opportunity", date(2026, 2, 20)),
                (cust_e, "new_customer", date(2026, 4, 2)),
            ]
        )
        self.env["crm.kpi.user.login"].create(
            [
                {"user_id": self.user2.id, "company_id": self.company.id, "day": day}
                for day in (date(2026, 2, 28), date(2026, 3, 2))
            ]
        )
        return cust_e

    def test_recent_months_alone_equal_a_run_over_all_months(self):
        """A run of recent months reads only what they need (old closed
        leads and customer months over a year back are left out): its
        figures must be exactly those of a run over the whole history."""
        self._long_history()
        self.recompute(date_from=date(2022, 1, 1))
        everything = self._figures()
        # E was an opportunity from 20 February to 2 April: at the end of March
        self.assertIn(
            ("lifecycle_opportunity", date(2026, 3, 1)),
            {(row[0], row[1]) for row in everything if row[9] == 1},
        )
        # A won on 15 January 2025, its first deal: active at the month's end,
        # so January 2025 already has a customer lifetime value
        self.assertTrue(
            self.facts("clv").filtered(lambda fact: fact.date == date(2025, 1, 1))
        )
        repeat_d = [
            row for row in everything if row[0] == "repeat_customers" and row[4] is None
        ]
        self.assertTrue(repeat_d and repeat_d[0][9] == 1, "D repeats in March")
        self.assertGreater(len({row[0] for row in everything}), 15)
        # the run of recent months writes its months anew (a run over the
        # same data would keep every fact as it is)
        self.forget_facts(MAR)
        summary = self.recompute(date_from=date(2026, 3, 1))
        # the fixture's changes still wait in the queue: the run read every
        # won deal from the leads, not the history the first run kept
        self.assertEqual(summary["history"], "kept")
        self.assertEqual(self._figures(), everything)

    def _history_customers(self):
        """F won at 23:30 UTC on 31 January, in February in Berlin: after the
        cutoff month February. G won an hour earlier (still January in
        Berlin: kept) and again in March."""
        cust_f, cust_g = self.env["res.partner"].create(
            [
                {"name": "F GmbH", "is_company": True, "user_id": self.user1.id},
                {"name": "G AG", "is_company": True, "kpi_segment_id": self.seg2.id},
            ]
        )
        for name, customer, won, revenue in (
            ("F", cust_f, datetime(2026, 1, 31, 23, 30), 700),
            ("G1", cust_g, datetime(2026, 1, 31, 22, 30), 80),
            ("G2", cust_g, datetime(2026, 3, 25, 12), 90),
        ):
            self._deal(
                name,
                customer,
                self.team2,
                self.user2,
                won - timedelta(days=10),
                won=won,
                revenue=revenue,
            )
        return cust_f, cust_g

    def _engine_tables(self, month_from, month_to=APR):
        """(history_state, rows of the won deals, spells and customers) of a
        run's engine prepared for these months."""
        with self.engine(month_to, month_from, history=True) as engine:
            engine.prepare()
            return self._read_engine_tables(engine)

    def _read_engine_tables(self, engine):
        rows = {}
        for table, columns in (
            ("kpi_tmp_won", WON_COLUMNS),
            ("kpi_tmp_spell", SPELL_COLUMNS),
            (
                "kpi_tmp_customer",
                (
                    "company_id",
                    "customer_id",
                    "first_at",
                    "team_id",
                    "user_id",
                    "segment_id",
                    "campaign_id",
                    "complete",
                ),
            ),
        ):
            listed = SQL(", ").join(SQL.identifier(c) for c in columns)
            self.cr.execute(
                SQL(
                    "SELECT %s FROM %s ORDER BY %s",
                    listed,
                    SQL.identifier(table),
                    listed,
                )
            )
            rows[table] = self.cr.fetchall()
        return engine.history_state, engine.history_cutoff, rows

    def test_customer_history_kept_between_runs(self):
        """A run keeps the won deals before its cutoff month (two months
        before its last one) and their activity spells. A later run that
        starts on or after that month reads them instead of every won deal,
        and must compute exactly what a run reading the leads computes: same
        won deals (numbers, predecessors, derived deal types), spells,
        customers and figures."""
        self._long_history()
        self._history_customers()
        summary = self.recompute(date_from=date(2022, 1, 1))
        self.assertEqual(summary["history"], "kept")
        self.cr.execute(
            "SELECT cutoff, tz, churn_days FROM crm_kpi_history_stamp "
            "WHERE company_id = %s",
            (self.company.id,),
        )
        self.assertEqual(self.cr.fetchall(), [(FEB, "Europe/Berlin", 60)])
        # the deals won before February in Berlin: L0, L1, L2, D-old, A-2022,
        # C-2023, E's first deal and G1 (F and L3 are February's)
        self.cr.execute(
            "SELECT l.name FROM crm_kpi_history_won h JOIN crm_lead l ON l.id = h.id"
        )
        self.assertEqual(
            sorted(name for (name,) in self.cr.fetchall()),
            sorted(["L0", "L1", "L2", "D-old", "A-2022", "C-2023", "E", "G1"]),
        )
        everything = self._figures()
        # as after a nightly run: nothing waits in the queue
        self.env["crm.kpi.changed.day"].search([]).unlink()
        state, cutoff, kept = self._engine_tables(MAR)
        self.assertEqual((state, cutoff), ("read", FEB))
        # the same run reading every won deal from the leads
        with patch.object(Run, "_kept_history", lambda engine: None):
            state, cutoff, live = self._engine_tables(MAR)
        self.assertEqual((state, cutoff), ("kept", None))
        for table, rows in live.items():
            self.assertEqual(kept[table], rows, table)
        self.assertEqual(len(live["kpi_tmp_won"]), 14)
        # and the figures of a run of recent months from the kept history
        self.forget_facts(MAR)
        summary = self.recompute(date_from=MAR)
        self.assertEqual(summary["history"], "read")
        self.assertEqual(self._figures(), everything)
        # G's March deal goes away, A's February deal moves to April: days
        # after the cutoff, the history is still read, and it keeps G's
        # and A's spells as they were before the cutoff
        self.env["crm.lead"].search([("name", "=", "G2")]).unlink()
        self.l3.date_closed = datetime(2026, 4, 2, 12)
        self.env["crm.kpi.changed.day"].search([]).unlink()
        state, _cutoff, kept = self._engine_tables(MAR)
        self.assertEqual(state, "read")
        with patch.object(Run, "_kept_history", lambda engine: None):
            live = self._engine_tables(MAR)[2]
        for table, rows in live.items():
            self.assertEqual(kept[table], rows, table)

    def test_kept_history_is_not_read_when_it_may_be_stale(self):
        """The kept history is read only when nothing it holds can have
        changed since: otherwise the run reads every won deal from the leads
        and keeps a new history."""
        self.recompute()
        Queue = self.env["crm.kpi.changed.day"]
        Queue.search([]).unlink()
        self.assertEqual(self._engine_tables(MAR)[0], "read")
        # west of UTC, the UTC day of the cutoff month's first day still
        # ends the local month before it
        Queue._mark([(self.company.id, FEB)])
        self.assertEqual(self._engine_tables(MAR)[0], "kept")
        Queue.search([]).unlink()
        self.assertEqual(self._engine_tables(MAR)[0], "read")
        # a change of a kept deal queues its January days
        self.l2.expected_revenue = 2500
        self.assertEqual(self._engine_tables(MAR)[0], "kept")
        Queue.search([]).unlink()
        self.assertEqual(self._engine_tables(MAR)[0], "read")
        # another churn period makes other spells (and queues every month:
        # without them, the stamp alone sends the run to the leads)
        self.company.kpi_churn_days = 90
        Queue.search([]).unlink()
        self.assertEqual(self._engine_tables(MAR)[0], "kept")
        self.assertEqual(self._engine_tables(MAR)[0], "read")
        # a run from before the cutoff month, or too long after it
        self.assertEqual(self._engine_tables(JAN)[0], "kept")
        self.assertEqual(
            self._engine_tables(date(2026, 7, 1), date(2026, 7, 1))[0], "kept"
        )
        # a history kept by another version of the engine
        self.cr.execute("UPDATE crm_kpi_history_stamp SET version = version - 1")
        self.assertEqual(
            self._engine_tables(date(2026, 6, 1), date(2026, 7, 1))[0], "kept"
        )
        self.assertEqual(
            self._engine_tables(date(2026, 6, 1), date(2026, 7, 1))[0], "read"
        )
        # a company without a kept history: the run keeps one for both
        company2 = self.env["res.company"].create({"name": "Zweite GmbH"})
        both = self.company | company2
        with self.engine(APR, MAR, history=True, companies=both) as engine:
            engine.prepare()
            state = (engine.history_state, engine.history_cutoff)
        self.assertEqual(state, ("kept", None))
        with self.engine(APR, MAR, history=True, companies=both) as engine:
            engine.prepare()
            self.assertEqual(engine.history_state, "read")
        # a run of company 2 alone from January replaces only its history
        with self.engine(APR, JAN, history=True, companies=company2) as engine:
            engine.prepare()
            self.assertEqual(engine.history_state, "kept")
        self.cr.execute("SELECT company_id FROM crm_kpi_history_won")
        self.assertEqual({row[0] for row in self.cr.fetchall()}, {self.company.id})
        self.assertEqual(self._engine_tables(MAR)[0], "read")

    def test_nightly_run_reads_the_kept_history(self):
        """After a full run, the nightly run of a day's changes reads the
        kept history and computes the figures a full run computes."""
        with freeze_time("2026-04-15 10:00:00"):
            self.recompute()
            self.env["crm.kpi.changed.day"].search([]).unlink()
            deal = self._deal(
                "L9",
                self.cust_b,
                self.team2,
                self.user2,
                datetime(2026, 4, 1, 12),
                won=datetime(2026, 4, 10, 12),
                revenue=600,
            )
            deal._kpi_mark_dirty()
            summary = self.env["crm.kpi.changed.day"]._run_incremental()
            self.assertEqual(summary["history"], "read")
            nightly = self._figures()
            self.forget_facts()
            self.assertEqual(self.recompute()["history"], "kept")
            self.assertEqual(self._figures(), nightly)
            self.assertMonths(
                "won_revenue",
                {
                    1: (3000, 0, 3000),
                    2: (500, 0, 500),
                    3: (3000, 0, 3000),
                    4: (600, 0, 600),
                },
            )

    def test_kept_history_waits_for_an_interrupted_run(self):
        """A nightly run that took the queue and was interrupted before its
        first commit holds the changed months in its state: until it
        resumes, no run reads the kept history. L1 (January) grows from 1000
        to 1600: March's CLV becomes (A 2100 + C 3000) x 0.5 = 2550 over 2."""
        with freeze_time("2026-04-15 10:00:00"):
            self.recompute()
            self.env["crm.kpi.changed.day"].search([]).unlink()
            self.l1.expected_revenue = 1600
            state = self.env["crm.kpi.changed.day"]._take_queue(APR)
            self.env["ir.config_parameter"].set_param(
                RUN_STATE_PARAM, json.dumps(state)
            )
            self.assertFalse(self.env["crm.kpi.changed.day"].search([]))
            self.assertEqual(self._engine_tables(MAR)[0], "kept")
            summary = self.env["crm.kpi.changed.day"]._run_incremental()
            self.assertEqual(summary["history"], "kept")
            self.env.invalidate_all()
            self.assertEqual(self.month_value("clv", MAR), (2550, 2, 1275))
            self.assertEqual(self._engine_tables(MAR)[0], "read")

    def test_basis_has_one_row_per_customer_and_month(self):
        """F's deals of 5 January and 20 March (60 churn days) make two
        activity spells that share March: active at its start (the first
        spell) and at its end (the second). The basis has one row for it."""
        cust_f = self.env["res.partner"].create({"name": "F AG", "is_company": True})
        for won in (datetime(2026, 1, 5, 12), datetime(2026, 3, 20, 12)):
            self._deal(
                "F", cust_f, self.team1, self.user1, won - timedelta(days=3), won=won
            )
        engine = self.engine(date(2026, 6, 1))
        engine.need("basis")
        cr = self.env.cr
        # revenue is summed exactly: sums of floats depend on the order of
        # their terms, and a rerun must keep the CLV facts as they are
        cr.execute(
            """SELECT atttypid::regtype::text FROM pg_attribute
                WHERE attrelid = 'kpi_tmp_basis'::regclass
                  AND attname = 'revenue_12m'"""
        )
        self.assertEqual(cr.fetchone()[0], "numeric")
        cr.execute(
            """SELECT month, active_start, active_end FROM kpi_tmp_basis
                WHERE customer_id = %s ORDER BY month""",
            (cust_f.id,),
        )
        self.assertEqual(
            cr.fetchall(),
            [
                (date(2026, 1, 1), False, True),
                (date(2026, 2, 1), True, True),
                (date(2026, 3, 1), True, True),
                (date(2026, 4, 1), True, True),
                (date(2026, 5, 1), True, False),
            ],
        )
        # the same flags as grouping every spell's months, for every customer
        cr.execute(
            """SELECT company_id, customer_id, m::date,
                      bool_or(start_at <= m AND m < end_at),
                      bool_or(start_at <= m + INTERVAL '1 month'
                              AND m + INTERVAL '1 month' < end_at)
                 FROM kpi_tmp_spell s
                CROSS JOIN LATERAL generate_series(
                      date_trunc('month', s.start_at),
                      LEAST(date_trunc('month', s.end_at), '2026-06-01'::timestamp),
                      INTERVAL '1 month') m
                GROUP BY 1, 2, 3"""
        )
        grouped = set(cr.fetchall())
        cr.execute(
            """SELECT company_id, customer_id, month, active_start, active_end
                 FROM kpi_tmp_basis"""
        )
        rows = cr.fetchall()
        engine.drop()
        self.assertEqual(len(rows), len(set(rows)))
        self.assertEqual(set(rows), grouped)

    def test_lifespan_from_spell_events(self):
        """The lifespan counts every spell once (its first and last covered
        month, and the month it ends) instead of once per month: the same
        monthly counts as counting the months of every spell, also for a run
        of recent months and for spells that end after its last month."""
        cust_f = self.env["res.partner"].create({"name": "F AG", "is_company": True})
        for won in (
            datetime(2025, 11, 5, 12),
            datetime(2026, 1, 5, 12),
            datetime(2026, 3, 20, 12),
        ):
            self._deal(
                "F", cust_f, self.team1, self.user1, won - timedelta(days=3), won=won
            )
        cr = self.env.cr
        for month_from in (None, date(2026, 2, 1)):
            engine = self.engine(date(2026, 4, 1), month_from)
            engine.need("lifespan")
            cr.execute(
                "SELECT company_id, month, churned, active_start FROM kpi_tmp_lifespan"
            )
            counts = {
                (c, m): (churned, active) for c, m, churned, active in cr.fetchall()
            }
            # per spell and month whose start it covers: it churns in M when
            # it ends before M + 1 and the next spell does not cover M + 1
            cr.execute(
                """
                SELECT s.company_id, m::date,
                       COUNT(*) FILTER (
                           WHERE s.end_at <= m + INTERVAL '1 month'
                             AND NOT COALESCE(
                                 s.next_start <= m + INTERVAL '1 month'
                                 AND m + INTERVAL '1 month' < s.next_end,
                                 FALSE)),
                       COUNT(*)
                  FROM kpi_tmp_spell s
                 CROSS JOIN LATERAL generate_series(
                       GREATEST(date_trunc('month', s.start_at)
                                + CASE WHEN s.start_at = date_trunc('month', s.start_at)
                                       THEN INTERVAL '0' ELSE INTERVAL '1 month' END,
                                %s::timestamp),
                       LEAST(date_trunc('month', s.end_at - INTERVAL '1 microsecond'),
                             '2026-04-01'::timestamp),
                       INTERVAL '1 month') m
                 GROUP BY 1, 2
                """,
                (engine.basis_from,),
            )
            expected = {
                (c, m): (churned, active) for c, m, churned, active in cr.fetchall()
            }
            engine.drop()
            with self.subTest(month_from=month_from):
                self.assertGreater(len(expected), 3)
                self.assertTrue(any(churned for churned, _a in expected.values()))
                self.assertEqual(
                    {key: value for key, value in counts.items() if any(value)},
                    expected,
                )
