"""Edge cases of the engine: timezones, reruns, deleted records, bad input."""

from datetime import date, datetime
from unittest.mock import patch

import psycopg2
from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.crm_strategic_kpi.engine import Run

from .common import KpiCommon

JAN, FEB, MAR, APR = (date(2026, m, 1) for m in range(1, 5))


@tagged("post_install", "-at_install")
class TestKpiEdgeCases(KpiCommon):
    def test_month_boundary_in_company_timezone(self):
        # 23:30 UTC on 31 January is 00:30 on 1 February in Berlin
        self._deal(
            "late",
            self.cust_d,
            self.team1,
            self.user1,
            datetime(2026, 1, 20, 12),
            won=datetime(2026, 1, 31, 23, 30),
            revenue=10,
        )
        self.recompute(kpi_codes=["won_count"])
        self.assertMonths("won_count", {1: (2, 0, 2), 2: (2, 0, 2), 3: (1, 0, 1)})

    def test_rerun_is_identical(self):
        fields_ = [
            "kpi_code",
            "date",
            "company_id",
            "team_id",
            "user_id",
            "segment_id",
            "campaign_id",
            "source_id",
            "medium_id",
            "numerator",
            "denominator",
            "value",
        ]

        def snapshot():
            rows = self.env["crm.kpi.value"].search([]).read(fields_)
            return sorted(tuple(str(row[f]) for f in fields_) for row in rows)

        self.recompute()
        first = snapshot()
        self.recompute()
        self.assertTrue(first)
        self.assertEqual(snapshot(), first)

    def test_only_changed_months_are_rewritten(self):
        """A month whose computed rows equal its facts keeps them (same ids);
        a month with any other dimension, figure or KPI definition gets new
        facts and a new total."""
        Value = self.env["crm.kpi.value"]
        self.recompute()

        def ids(code=None, month=None):
            domain = [("kpi_code", "=", code)] if code else []
            domain += [("date", "=", month)] if month else []
            return sorted(Value.search(domain).ids)

        everything = ids()
        self.assertTrue(everything)
        self.recompute()
        self.assertEqual(ids(), everything, "nothing changed, nothing rewritten")
        Total = self.env["crm.kpi.total"]
        self.assertTrue(all(Total.search([]).mapped("fingerprint")))

        # L2 (won on 20 January) moves from team 2 to team 1: January's sum
        # stays 2 deals, but by team it is now 2 + 0 instead of 1 + 1
        jan, feb = date(2026, 1, 1), date(2026, 2, 1)
        jan_won, feb_won = ids("won_count", jan), ids("won_count", feb)
        self.l2.team_id = self.team1
        self.recompute()
        self.assertFalse(set(ids("won_count", jan)) & set(jan_won))
        self.assertEqual(ids("won_count", feb), feb_won)
        self.assertMonths("won_count", {1: (2, 0, 2), 2: (1, 0, 1), 3: (1, 0, 1)})
        by_team = self.month_value("won_count", jan, groupby=["team_id"])
        self.assertEqual(
            {team: vals[0] for team, vals in by_team.items()}, {(self.team1,): 2.0}
        )

        # a changed KPI definition rewrites every month of that KPI, also
        # when no figure changes
        revenue = ids("won_revenue")
        kpi = self.env["crm.kpi"].search([("code", "=", "won_revenue")])
        kpi.category = "marketing"
        self.recompute()
        self.assertFalse(set(ids("won_revenue")) & set(revenue))
        self.assertEqual(
            set(self.facts("won_revenue").mapped("category")), {"marketing"}
        )
        kpi.factor = 2
        self.recompute()
        self.assertMonths(
            "won_revenue",
            {1: (3000, 0, 6000), 2: (500, 0, 1000), 3: (3000, 0, 6000)},
        )
        self.assertEqual(ids("won_count", feb), feb_won)

        # a recompute still repairs facts edited or added by hand: a fact
        # whose KPI columns differ from its month's other facts, and facts
        # of a month that has no total
        jan_facts = Value.browse(ids("won_count", jan))
        self.assertEqual(len(jan_facts), 2)
        # below the KPI's factor: the total's (the largest) still matches it
        jan_facts[0].factor = 0.5
        self.env.flush_all()
        self.cr.execute(
            "INSERT INTO crm_kpi_value (kpi_id, kpi_code, company_id, date, "
            "numerator, denominator, value, has_value, factor, is_ratio) "
            "SELECT kpi_id, kpi_code, company_id, '2026-04-01', 7, 0, 7, TRUE, 1, "
            "FALSE FROM crm_kpi_value WHERE id = %s",
            (feb_won[0],),
        )
        self.recompute()
        self.assertEqual(set(self.facts("won_count").mapped("factor")), {1.0})
        self.assertFalse(ids("won_count", date(2026, 4, 1)))
        self.assertMonths("won_count", {1: (2, 0, 2), 2: (1, 0, 1), 3: (1, 0, 1)})

    def test_cube_rows_as_they_are_equal_summed_rows(self):
        """The rows of a plain cube read are written as they are; summed and
        mapped like any other KPI's rows they give the same facts."""

        def snapshot():
            self.env.flush_all()
            self.cr.execute(
                """SELECT kpi_code, date, company_id, team_id, user_id,
                          segment_id, campaign_id, source_id, medium_id,
                          currency_id, numerator, denominator, value, has_value
                     FROM crm_kpi_value ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9"""
            )
            return self.cr.fetchall()

        self.forget_facts()
        self.recompute()
        as_they_are = snapshot()
        self.assertGreater(len(as_they_are), 50)
        self.forget_facts()
        facts_query = Run.facts_query
        with patch.object(
            Run, "facts_query", lambda run, kpi: (facts_query(run, kpi)[0], False)
        ):
            self.recompute()
        self.assertEqual(snapshot(), as_they_are)

    def test_failed_kpi_keeps_previous_figures(self):
        self.recompute()
        before = self.facts("won_revenue").read(["date", "numerator"])
        original = Run.facts_query

        def broken(run, kpi):
            if kpi.code == "won_revenue":
                return SQL("SELECT 1 / 0 AS month"), False
            return original(run, kpi)

        with (
            patch.object(Run, "facts_query", broken),
            self.assertRaises(psycopg2.Error),
            mute_logger("odoo.sql_db"),
        ):
            self.recompute(kpi_codes=["won_revenue"])
        self.assertEqual(self.facts("won_revenue").read(["date", "numerator"]), before)

    def test_deleted_lead_disappears_after_incremental_run(self):
        self.recompute()
        self.env["crm.kpi.changed.day"].search([]).unlink()
        self.l2.unlink()
        self.env["crm.kpi.changed.day"]._run_incremental()
        # Jan keeps only L1; B is no longer a customer
        self.assertMonths("won_count", {1: (1, 0, 1), 2: (1, 0, 1), 3: (1, 0, 1)})
        self.assertMonths("new_customers", {3: (1, 0, 1)})

    def test_deleted_references_leave_no_dangling_facts(self):
        """The fact table has no database foreign keys (bulk inserts): the
        ORM does what they would have done."""
        self.cr.execute(
            "SELECT COUNT(*) FROM pg_constraint "
            "WHERE conrelid = 'crm_kpi_value'::regclass AND contype = 'f'"
        )
        self.assertEqual(self.cr.fetchone()[0], 0)
        self.recompute()
        self.assertTrue(self.facts("won_count", team_id=self.team2.id))
        fact_ids = self.facts("won_count", team_id=self.team2.id).ids
        self.team2.unlink()
        facts = self.env["crm.kpi.value"].browse(fact_ids)
        self.assertTrue(facts.exists())
        self.assertFalse(facts.team_id, "a deleted team leaves its facts team-less")
        # the month totals do not move
        self.assertMonths("won_count", {1: (2, 0, 2), 2: (1, 0, 1), 3: (1, 0, 1)})
        # a team deleted while a run is under way (after it read the leads)
        # never reaches the facts it writes afterwards
        self.l1.team_id = self.team1
        Value = type(self.env["crm.kpi.run"])
        replace = Value._replace_facts
        team = self.env["crm.team"].create({"name": "T3"})
        self.l3.team_id = team
        state = {}

        def replace_then_delete(value, kpi, scope, subquery, *args):
            if not state:
                state["deleted"] = True
                team.unlink()
            return replace(value, kpi, scope, subquery, *args)

        with patch.object(Value, "_replace_facts", replace_then_delete):
            self.recompute()
        self.env.flush_all()
        self.cr.execute(
            "SELECT COUNT(*) FROM crm_kpi_value WHERE team_id = %s", (team.id,)
        )
        self.assertEqual(self.cr.fetchone()[0], 0)
        # a deleted KPI takes its facts along
        kpi = self.env["crm.kpi"].search([("code", "=", "referrals")])
        referral_facts = self.facts("referrals")
        self.assertTrue(referral_facts)
        totals = self.env["crm.kpi.total"].search([("kpi_id", "=", kpi.id)])
        self.assertTrue(totals)
        kpi.unlink()
        self.assertFalse(referral_facts.exists())
        self.assertFalse(totals.exists(), "and its monthly totals")

    def test_incremental_touches_only_changed_days(self):
        self.recompute()
        self.env["crm.kpi.changed.day"].search([]).unlink()
        # a cost in February: only February's month-scoped figures move
        self.env["crm.kpi.cost"].create(
            {"category": "marketing", "amount": 100, "date": date(2026, 2, 15)}
        )
        queued = self.env["crm.kpi.changed.day"].search([])
        self.assertEqual(queued.mapped("day"), [date(2026, 2, 15)])
        self.env["crm.kpi.changed.day"]._run_incremental()
        self.assertMonths(
            "cac",
            {
                1: (900, 1, 900),
                2: (300, 0, None),
                3: (400, 1, 400),
            },
        )
        self.assertFalse(self.env["crm.kpi.changed.day"].search([]))

    def test_facts_per_company(self):
        company2 = self.env["res.company"].create({"name": "Zweite GmbH"})
        team3 = self.env["crm.team"].create({"name": "T3", "company_id": company2.id})
        cust_e = self.env["res.partner"].create({"name": "E SA", "is_company": True})
        self._deal(
            "E1",
            cust_e,
            team3,
            False,
            datetime(2026, 2, 1, 12),
            won=datetime(2026, 2, 15, 12),
            revenue=1000,
            company=company2,
        )
        self.recompute()
        self.assertMonths("won_revenue", {2: (1000, 0, 1000)}, company=company2)
        # the main company's figures are untouched by company 2's deal
        self.assertMonths(
            "won_revenue",
            {
                1: (3000, 0, 3000),
                2: (500, 0, 500),
                3: (3000, 0, 3000),
            },
        )
        # nobody churned in company 2: lifespan 10 years, margin 100 %
        self.assertMonths(
            "clv",
            {
                2: (10000, 1, 10000),
                3: (10000, 1, 10000),
                4: (10000, 1, 10000),
            },
            company=company2,
        )

    def test_lead_without_partner_counts_as_lead_only(self):
        self.recompute()
        l7_month = self.month_value("lead_count", MAR)
        self.assertEqual(l7_month[0], 2)
        # L7 has no customer: no customer figure mentions it
        self.assertEqual(self.month_value("new_customers", MAR)[0], 1)

    def test_drill_down(self):
        self.recompute()
        fact = self.facts("won_count").filtered(lambda f: f.date == JAN)
        action = fact.action_open_records()
        self.assertEqual(action["res_model"], "crm.lead")
        self.assertEqual(
            sorted(action["domain"][0][2]), sorted((self.l1 | self.l2).ids)
        )
        churn = self.facts("churn_rate").filtered(lambda f: f.date == MAR)
        action = churn.action_open_records()
        self.assertEqual(action["res_model"], "res.partner")
        self.assertEqual(action["domain"][0][2], self.cust_b.ids)

    def test_bad_input(self):
        with self.assertRaises(UserError):
            self.recompute(kpi_codes=["no_such_kpi"])
        with self.assertRaises(UserError):
            self.recompute(date_from=APR, date_to=JAN)


@tagged("post_install", "-at_install")
class TestKpiInput(KpiCommon):
    def test_only_managers_recompute(self):
        with self.assertRaises(AccessError):
            self.env["crm.kpi.run"].with_user(self.user1).recompute()
        with self.assertRaises(AccessError):
            self.env["crm.kpi.cost"].with_user(self.user1).create(
                {"category": "sales", "amount": 1}
            )

    def test_invalid_input_is_refused(self):
        with self.assertRaises(ValidationError):
            self.env["crm.kpi.feedback"].create(
                {"partner_id": self.cust_a.id, "kind": "nps", "score": 11}
            )
        with self.assertRaises(ValidationError):
            self.env["crm.kpi.feedback"].create(
                {"partner_id": self.cust_a.id, "kind": "ces", "score": 0}
            )
        with self.assertRaises(ValidationError):
            self.company.kpi_churn_days = 20
        with self.assertRaises(ValidationError):
            self.env["crm.kpi.cost"].create({"category": "sales", "amount": -5})


@tagged("post_install", "-at_install")
class TestLoginCounter(KpiCommon):
    def test_logins_are_counted_per_user_and_day(self):
        user = self.user1.with_user(self.user1)
        with freeze_time("2026-05-04 09:00:00"):
            user._update_last_login()
            user._update_last_login()
        with freeze_time("2026-05-05 09:00:00"):
            user._update_last_login()
        rows = self.env["crm.kpi.user.login"].search(
            [("user_id", "=", self.user1.id), ("day", ">=", date(2026, 5, 1))],
            order="day",
        )
        self.assertEqual(
            [(r.day, r.count) for r in rows],
            [(date(2026, 5, 4), 2), (date(2026, 5, 5), 1)],
        )
        self.recompute(kpi_codes=["logins_per_user"], date_to=date(2026, 5, 1))
        # May: 3 logins of one user
        self.assertEqual(
            self.month_value("logins_per_user", date(2026, 5, 1)), (3, 1, 3)
        )
