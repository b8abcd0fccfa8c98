import json
from datetime import date, datetime, timedelta
from unittest.mock import patch

import psycopg2
from freezegun import freeze_time

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import SQL, index_exists, mute_logger

from odoo.addons.crm_strategic_kpi.engine import RUN_STATE_PARAM, Run
from odoo.addons.crm_strategic_kpi.engine.history import SPELL_COLUMNS, WON_COLUMNS
from odoo.addons.crm_strategic_kpi.models.crm_kpi_run import RECOMPUTE_LOCK

from .common import KpiCommon

JAN, FEB, MAR, APR = (date(2026, m, 1) for m in range(1, 5))


@tagged("post_install", "-at_install")
class TestKpiCatalogue(KpiCommon):
    """Every KPI of the catalogue against numbers worked out by hand from the
    fixture documented in common.KpiCommon."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.summary = cls.env["crm.kpi.run"].recompute(date_from=JAN, date_to=APR)

    # Sales ---------------------------------------------------------------
    def test_lead_count(self):
        # created: Jan L2 L3 L8, Feb L4 L5, Mar L6 L7 (lost L4/L6 included)
        self.assertMonths("lead_count", {1: (3, 0, 3), 2: (2, 0, 2), 3: (2, 0, 2)})

    def test_conversion_rate(self):
        # Jan: L2, L3 won; L8 neither converted nor won -> 2/3
        # Feb: L4 converted (then lost), L5 won -> 2/2; Mar: L6, L7 -> 0/2
        self.assertMonths(
            "conversion_rate",
            {
                1: (2, 3, 66.67),
                2: (2, 2, 100),
                3: (0, 2, 0),
            },
        )

    def test_close_rate(self):
        # Jan: L1, L2 won; Feb: L3 won, L4 lost; Mar: L5 won, L6 lost
        self.assertMonths(
            "close_rate",
            {
                1: (2, 2, 100),
                2: (1, 2, 50),
                3: (1, 2, 50),
            },
        )

    def test_won_count_and_revenue(self):
        self.assertMonths("won_count", {1: (2, 0, 2), 2: (1, 0, 1), 3: (1, 0, 1)})
        self.assertMonths(
            "won_revenue",
            {
                1: (3000, 0, 3000),
                2: (500, 0, 500),
                3: (3000, 0, 3000),
            },
        )
        self.assertEqual(self.facts("won_revenue")[:1].currency_id, self.eur)

    def test_new_revenue(self):
        # A's first won deal is L0 (2025-01-15): L1 (365 days later) and L3
        # (391 days) are not new; L2 is B's first, L5 is C's first.
        self.assertMonths("new_revenue", {1: (2000, 0, 2000), 3: (3000, 0, 3000)})

    def test_sales_cycle_days(self):
        # Jan: L1 36 days + L2 15 days over 2 deals; Feb: L3 21; Mar: L5 30
        self.assertMonths(
            "sales_cycle_days",
            {
                1: (51, 2, 25.5),
                2: (21, 1, 21),
                3: (30, 1, 30),
            },
        )

    def test_open_deals(self):
        # end of Jan: L8, L3; end of Feb: L8, L5; end of Mar and Apr: L8
        self.assertMonths(
            "open_deals",
            {
                1: (2, 0, 2),
                2: (2, 0, 2),
                3: (1, 0, 1),
                4: (1, 0, 1),
            },
        )

    def test_activities_per_lead(self):
        # Jan closed L1 (2 calls), L2 (1); Feb L3 (0), L4 (3); Mar L5, L6 (0)
        self.assertMonths(
            "activities_per_lead",
            {
                1: (3, 2, 1.5),
                2: (3, 2, 1.5),
                3: (0, 2, 0),
            },
        )

    def test_renewal_rate(self):
        self.assertMonths("renewal_rate", {3: (1, 2, 50)})

    def test_referrals(self):
        # L6 from a referral source, L7 referred by A
        self.assertMonths("referrals", {3: (2, 0, 2)})

    # Customers -----------------------------------------------------------
    # Activity spells with a churn period of 60 days: A 2025-01-15..03-16 and
    # 2026-01-15..04-11, B 2026-01-20..03-21, C 2026-03-05..05-04.
    # Active at the start of Feb: A B; Mar: A B; Apr: A C; May: C.
    def test_retention_and_churn(self):
        self.assertMonths(
            "retention_rate",
            {
                2: (2, 2, 100),
                3: (1, 2, 50),
                4: (1, 2, 50),
            },
        )
        self.assertMonths(
            "churn_rate",
            {
                2: (0, 2, 0),
                3: (1, 2, 50),
                4: (1, 2, 50),
            },
        )

    def test_new_customers(self):
        # A won first in 2025 (reactivated in Jan 2026, not new)
        self.assertMonths("new_customers", {1: (1, 0, 1), 3: (1, 0, 1)})

    def test_repeat_customers(self):
        # end of Jan: A (2 deals), B (1); Feb: A (3), B; Mar: A, C (1); Apr: C
        self.assertMonths(
            "repeat_customers",
            {
                1: (1, 2, 50),
                2: (1, 2, 50),
                3: (1, 2, 50),
                4: (0, 1, 0),
            },
        )

    def test_cross_sell_rate(self):
        # L1 and L3 are upsells (derived: A had won before), L5 a renewal
        self.assertMonths(
            "cross_sell_rate",
            {
                1: (1, 2, 50),
                2: (1, 2, 50),
                3: (0, 2, 0),
                4: (0, 1, 0),
            },
        )

    def test_data_completeness(self):
        # B has no phone; A and C are complete
        self.assertMonths(
            "data_completeness",
            {
                1: (1, 2, 50),
                2: (1, 2, 50),
                3: (2, 2, 100),
                4: (1, 1, 100),
            },
        )

    def test_clv(self):
        # Churned: A in 2025-03, B in 2026-03, A in 2026-04. Lifespan is 1 year
        # every month: Jan 1 churned / 1 active at the start of Feb 2025; Feb
        # 1 / 1 (start of Mar 2025); Mar and Apr: churned but nobody active
        # 12 months before -> annual churn taken as 100 %.
        # Jan: (A 1000 + B 2000) x 1 x 50 % = 1500 over 2 customers
        # Feb: (A 1500 + B 2000) x 0.5 = 1750 / 2; Mar: (A 1500 + C 3000) x 0.5
        # Apr: C 3000 x 0.5 = 1500 / 1
        self.assertMonths(
            "clv",
            {
                1: (1500, 2, 750),
                2: (1750, 2, 875),
                3: (2250, 2, 1125),
                4: (1500, 1, 1500),
            },
        )

    # Satisfaction, marketing, adoption -------------------------------------
    def test_nps(self):
        # Jan 10 P, 5 D, 8 passive; Feb 9 P, 10 P, 7 passive; Mar 2 D
        self.assertMonths(
            "nps",
            {
                1: (0, 3, 0),
                2: (2, 3, 66.67),
                3: (-1, 1, -100),
            },
        )

    def test_ces(self):
        self.assertMonths("ces", {2: (7, 2, 3.5)})

    def test_cac(self):
        # Jan: 600 marketing + 300 sales for B; Feb: 200 and nobody new (empty)
        self.assertMonths(
            "cac",
            {
                1: (900, 1, 900),
                2: (200, 0, None),
                3: (400, 1, 400),
            },
        )

    def test_retention_cost(self):
        self.assertMonths(
            "retention_cost",
            {
                2: (100, 2, 50),
                3: (0, 2, 0),
                4: (0, 2, 0),
            },
        )

    def test_marketing_roi(self):
        # Jan: L1 (campaign C1) 1000 - 600 over 600
        self.assertMonths(
            "marketing_roi",
            {
                1: (400, 600, 66.67),
                2: (-200, 200, -100),
                3: (-400, 400, -100),
            },
        )

    def test_traffic_to_lead(self):
        # 3 leads for 1000 visitors in Jan; no visitor figure in Feb, Mar
        self.assertMonths(
            "traffic_to_lead",
            {
                1: (3, 1000, 0.3),
                2: (2, 0, None),
                3: (2, 0, None),
            },
        )
        feb = self.facts("traffic_to_lead").filtered(lambda f: f.date == FEB)
        self.assertTrue(feb)
        self.assertFalse(any(feb.mapped("has_value")))

    def test_records_created(self):
        self.assertMonths(
            "records_created",
            {
                1: (3, 0, 3),
                2: (2, 0, 2),
                3: (2, 0, 2),
            },
        )

    def test_logins_per_user(self):
        self.assertMonths("logins_per_user", {1: (6, 2, 3)})

    def test_time_to_resolution_needs_helpdesk(self):
        kpi = self.env.ref("crm_strategic_kpi.kpi_time_to_resolution")
        self.assertEqual(kpi.active, "helpdesk.ticket" in self.env)

    def test_every_active_kpi_is_computed(self):
        active = set(self.env["crm.kpi"].search([]).mapped("code"))
        self.assertEqual(set(self.summary["rows"]), active)

    def test_cubes_equal_record_rows(self):
        """A run reads most KPIs from cubes summed per source (the customer
        KPIs from changes summed over the activity spells); the drill-down
        reads the same queries record by record (the customer KPIs from the
        customer-month basis). Both give the same sums for every KPI, month
        and combination of dimensions, for runs from different months."""
        # more histories: F has two spells, an upsell and a deal won at local
        # midnight on 1 February; G's only deal is won at that instant; H
        # wins a year apart (two spells, a repeat customer); J's second spell
        # starts at local midnight on 1 April, after its first ended in March
        # (active at the end of March)
        cust_f, cust_g, cust_h, cust_j = self.env["res.partner"].create(
            [
                {"name": name, "is_company": True}
                for name in ("F AG", "G AG", "H AG", "J AG")
            ]
        )
        for customer, won, revenue, extra in (
            (cust_f, datetime(2025, 11, 5, 12), 100, {}),
            (cust_f, datetime(2026, 1, 5, 12), 200, {"kpi_deal_type": "upsell"}),
            (cust_f, datetime(2026, 1, 31, 23), 50, {}),
            (cust_f, datetime(2026, 3, 20, 12), 70, {}),
            (cust_g, datetime(2026, 1, 31, 23), 40, {}),
            (cust_h, datetime(2025, 2, 10, 12), 30, {}),
            (cust_h, datetime(2026, 2, 10, 12), 60, {}),
            (cust_j, datetime(2026, 1, 10, 12), 80, {}),
            (cust_j, datetime(2026, 3, 31, 22), 90, {}),
        ):
            self._deal(
                customer.name,
                customer,
                self.team1,
                self.user1,
                won - timedelta(days=2),
                won=won,
                revenue=revenue,
                **extra,
            )
        # lifecycle spells across the computed months
        self.stage_events(
            [
                (cust_f, "prospect", date(2025, 12, 15)),
                (cust_f, "opportunity", date(2026, 2, 20)),
                (cust_f, "new_customer", date(2026, 4, 2)),
                (cust_g, "active", date(2026, 1, 10)),
            ]
        )
        cr = self.env.cr

        def sums(query, first):
            cr.execute(
                SQL(
                    """
                    SELECT month, company_id, team_id, user_id, segment_id,
                           campaign_id, source_id, medium_id,
                           ROUND(SUM(num), 6), ROUND(SUM(den), 6)
                      FROM (%s) q
                     WHERE month BETWEEN %s AND %s
                     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
                    HAVING SUM(num) <> 0 OR SUM(den) <> 0
                    """,
                    query,
                    first,
                    APR,
                )
            )
            return set(cr.fetchall())

        for month_from in (None, JAN, MAR):
            with self.engine(APR, month_from) as engine:
                engine.prepare()
                kpis = engine.kpis()
                # the months the run computes
                first = month_from or JAN
                by_record = {
                    # the facts' rows: with the KPI's last step (the lifetime
                    # value's lifespan and margin), which the drill-down
                    # leaves out
                    kpi.code: sums(
                        kpi.adjust(engine, engine.records_query(kpi))
                        if kpi.adjust
                        else engine.records_query(kpi),
                        first,
                    )
                    for kpi in kpis
                }
                engine.build_cubes(kpis)
                cr.execute(
                    r"""SELECT COUNT(*) FROM pg_tables
                         WHERE schemaname = pg_my_temp_schema()::regnamespace::text
                           AND tablename LIKE 'kpi\_tmp\_%cube%'"""
                )
                # leads by creation, by closing; open deals; feedback; costs;
                # logins; contacts; customers; lifecycle stages (and the
                # helpdesk bridge's tickets when it is installed)
                bridged = "ticket" in engine.catalogue.sources
                self.assertEqual(cr.fetchone()[0], 9 + bridged)
                for kpi in kpis:
                    with self.subTest(code=kpi.code, month_from=month_from):
                        self.assertEqual(
                            sums(engine.facts_query(kpi)[0], first), by_record[kpi.code]
                        )
                self.assertTrue(by_record["retention_rate"] and by_record["close_rate"])
                self.assertTrue(by_record["repeat_customers"] and by_record["clv"])
                self.assertTrue(by_record["cross_sell_rate"])
                self.assertTrue(by_record["lifecycle_opportunity"])
                self.assertTrue(by_record["open_deals"] and by_record["nps"])
                if month_from != MAR:
                    # G, won at local midnight on 1 February, is new in February
                    self.assertIn(
                        (FEB, self.team1.id, 1),
                        {
                            (row[0], row[2], row[8])
                            for row in by_record["new_customers"]
                        },
                    )
        with self.engine(APR, JAN) as engine:
            engine.prepare()
            kpis = engine.kpis()
            engine.build_cubes(kpis)
            # the plain cube reads (CLV: with one lifespan per company and
            # month) are written as they are, one row per month, company and
            # dimensions; the KPIs of several measures are summed first
            plain = {kpi.code for kpi in kpis if engine.facts_query(kpi)[1]}
            self.assertTrue(
                {
                    "retention_rate",
                    "close_rate",
                    "clv",
                    "repeat_customers",
                    "lifecycle_active",
                    "open_deals",
                    "nps",
                }
                <= plain
            )
            self.assertFalse({"records_created", "cac", "marketing_roi"} & plain)
            for kpi in kpis:
                if kpi.code not in plain:
                    continue
                cr.execute(
                    SQL(
                        """SELECT COUNT(*) = COUNT(DISTINCT (month, company_id,
                                  team_id, user_id, segment_id, campaign_id,
                                  source_id, medium_id))
                             FROM (%s) q""",
                        engine.facts_query(kpi)[0],
                    )
                )
                self.assertTrue(cr.fetchone()[0], kpi.code)
            # every dimension record the cubes refer to exists until one is
            # deleted
            tables = {"team_id": "crm_team", "user_id": "res_users"}
            self.assertTrue(Run.dimensions_alive(cr, tables))
            self.env.flush_all()
            cr.execute(
                "UPDATE crm_lead SET team_id = NULL WHERE team_id = %s",
                (self.team2.id,),
            )
            self.team2.unlink()
            self.assertFalse(Run.dimensions_alive(cr, tables))

    def test_drill_down_of_salespeople_equals_a_full_run(self):
        """The records behind facts come from a run over the leads and
        customers of the facts' salespeople only (a customer's salesperson
        is not its deals', D has none): for every fact, alone and all at
        once, the same records as from a run over every lead."""
        # D (no salesperson) wins a deal with u2; A (u1's) wins one with u2
        self._deal(
            "D2",
            self.cust_d,
            self.team2,
            self.user2,
            datetime(2026, 1, 20, 9),
            won=datetime(2026, 2, 10, 12),
            revenue=700,
        )
        self._deal(
            "A9",
            self.cust_a,
            self.team2,
            self.user2,
            datetime(2026, 2, 2, 9),
            won=datetime(2026, 3, 5, 12),
            revenue=900,
        )
        self.recompute()
        facts = self.env["crm.kpi.value"].search(
            [("company_id", "=", self.company.id), ("numerator", "!=", 0)]
        )
        self.assertGreater(len(facts), 50)
        with self.engine(APR, JAN) as engine:
            expected = {fact: fact._get_numerator_records_in(engine) for fact in facts}
            everything = facts._get_numerator_records_in(engine)
        self.assertIn(self.cust_d.id, everything["res.partner"])
        self.assertIn(self.cust_a.id, everything["res.partner"])
        for fact, records in expected.items():
            with self.subTest(kpi=fact.kpi_code, date=fact.date):
                self.assertEqual(fact._get_numerator_records(), records)
        self.assertEqual(facts._get_numerator_records(), everything)

    # Aggregation at every grouping -----------------------------------------
    def test_group_by_team_is_ratio_of_sums(self):
        # Retention Mar + Apr. T1: Mar A kept (1/1), Apr A lost, C kept (1/2)
        # -> 2/3 = 66.67 % (an average of the ratios would say 75 %).
        # T2: Mar B lost (0/1).
        groups = self.env["crm.kpi.value"]._read_group(
            [("kpi_code", "=", "retention_rate"), ("date", "in", [MAR, APR])],
            ["team_id"],
            ["numerator:sum", "denominator:sum", "value:sum"],
        )
        by_team = {team: rest for team, *rest in groups}
        self.assertEqual(by_team[self.team1][:2], [2, 3])
        self.assertAlmostEqual(by_team[self.team1][2], 66.6667, places=3)
        self.assertEqual(by_team[self.team2], [0, 1, 0])

    def test_group_by_month_and_segment(self):
        got = self.month_value("churn_rate", MAR, groupby=("segment_id",))
        self.assertEqual(got[(self.seg1,)], (0, 1, 0))  # A stayed
        self.assertEqual(got[(self.seg2,)], (1, 1, 100))  # B churned
        nps = self.month_value("nps", JAN, groupby=("segment_id",))
        # S1: A 10 (promoter) and contact A1 8 (passive); S2: B 5 (detractor)
        self.assertEqual(nps[(self.seg1,)], (1, 2, 50))
        self.assertEqual(nps[(self.seg2,)], (-1, 1, -100))

    def test_grand_total(self):
        # NPS Jan..Mar: (0 + 2 - 1) / (3 + 3 + 1) = 14.29, not the average of
        # the monthly scores (-11.1)
        [(num, den, value)] = self.env["crm.kpi.value"]._read_group(
            [("kpi_code", "=", "nps"), ("company_id", "=", self.company.id)],
            [],
            ["numerator:sum", "denominator:sum", "value:sum"],
        )
        self.assertEqual((num, den), (1, 7))
        self.assertAlmostEqual(value, 14.2857, places=3)

    def test_monthly_totals_equal_facts(self):
        """Groupings by KPI, company and period read the monthly totals; they
        give what summing the facts gives (counts included)."""
        # the engine wrote the totals with the facts, summed from the same
        # rows: exactly what summing the stored facts gives
        self.env.flush_all()
        totals = self.env["crm.kpi.total"]._totals_of(SQL("crm_kpi_value"))
        columns = SQL(
            "kpi_id, kpi_code, category, unit, factor, is_ratio, currency_id, date, "
            "company_id, ROUND(numerator::numeric, 6), ROUND(denominator::numeric, 6), "
            "ROUND(value::numeric, 6), has_value, fact_count, fingerprint"
        )
        self.cr.execute(SQL("SELECT %s FROM crm_kpi_total ORDER BY 1, 9, 8", columns))
        written = self.cr.fetchall()
        self.cr.execute(SQL("SELECT %s FROM (%s) t ORDER BY 1, 9, 8", columns, totals))
        self.assertEqual(written, self.cr.fetchall())
        self.assertGreater(len(written), 50)
        Value = self.env["crm.kpi.value"]
        Facts = Value.with_context(kpi_facts_only=True)
        measures = ["numerator:sum", "denominator:sum", "value:sum", "__count"]
        cases = [
            ([], ["kpi_id", "date:month"]),
            ([("kpi_code", "=", "nps")], []),
            ([("date", ">=", FEB)], ["category", "date:year"]),
            ([("kpi_id.category", "=", "customers")], ["company_id", "kpi_code"]),
        ]
        for domain, groupby in cases:
            with self.subTest(groupby=groupby):
                self.assertIsNotNone(
                    Value._totals_spec(domain, groupby, measures, (), None)
                )
                got = Value._read_group(domain, groupby, measures)
                self.assertTrue(got)
                self.assertEqual(got, Facts._read_group(domain, groupby, measures))
        web = Value.formatted_read_group(
            [], ["kpi_id"], ["value:sum"], order="__count desc, kpi_id"
        )
        self.assertEqual(
            web,
            Facts.formatted_read_group(
                [], ["kpi_id"], ["value:sum"], order="__count desc, kpi_id"
            ),
        )
        # a dimension the totals do not carry, or a figure (a filter on it
        # keeps other facts than totals), or another aggregate than a sum:
        # the facts are read
        for domain, groupby, aggregates in (
            ([], ["team_id"], measures),
            ([("segment_id", "=", self.seg1.id)], ["kpi_id"], measures),
            ([("has_value", "=", True)], ["kpi_id"], measures),
            ([("numerator", ">", 0)], [], measures),
            ([], ["has_value"], measures),
            ([], ["kpi_id"], ["numerator:max"]),
            ([], ["kpi_id"], ["value:avg"]),
        ):
            with self.subTest(domain=domain, groupby=groupby, aggregates=aggregates):
                self.assertIsNone(
                    Value._totals_spec(domain, groupby, aggregates, (), None)
                )
        # marketing ROI: revenue facts have no denominator, cost facts have
        # one; only the cost facts have a value
        [(num, den)] = Value._read_group(
            [("kpi_code", "=", "marketing_roi"), ("has_value", "=", True)],
            [],
            ["numerator:sum", "denominator:sum"],
        )
        self.assertEqual(
            (num, den),
            tuple(
                Facts._read_group(
                    [("kpi_code", "=", "marketing_roi"), ("has_value", "=", True)],
                    [],
                    ["numerator:sum", "denominator:sum"],
                )[0]
            ),
        )
        # nothing matches: a count of 0, as from the facts
        self.assertEqual(
            Value._read_group([("kpi_code", "=", "none")], [], ["__count"]), [(0,)]
        )
        # and the totals are really what is read
        self.env.cr.execute(
            "UPDATE crm_kpi_total SET numerator = numerator + 1000 "
            "WHERE kpi_code = 'won_count'"
        )
        self.env["crm.kpi.total"].invalidate_model()
        [(routed,)] = Value._read_group(
            [("kpi_code", "=", "won_count")], [], ["numerator:sum"]
        )
        [(summed,)] = Facts._read_group(
            [("kpi_code", "=", "won_count")], [], ["numerator:sum"]
        )
        self.assertEqual(routed - summed, 1000 * 3)  # won in Jan, Feb, Mar

    def test_totals_follow_facts_changed_through_the_orm(self):
        Value = self.env["crm.kpi.value"]
        Facts = Value.with_context(kpi_facts_only=True)
        args = ([("kpi_code", "=", "won_count")], ["date:month"], ["numerator:sum"])
        before = Value._read_group(*args)
        fact = Value.search([("kpi_code", "=", "won_count"), ("date", "=", JAN)])[:1]
        fact.write({"numerator": fact.numerator + 5})
        self.assertEqual(Value._read_group(*args), Facts._read_group(*args))
        self.assertNotEqual(Value._read_group(*args), before)
        fact.unlink()
        self.assertEqual(Value._read_group(*args), Facts._read_group(*args))

    def test_group_mixing_kpis_has_no_value(self):
        [(value,)] = self.env["crm.kpi.value"]._read_group(
            [("kpi_code", "in", ["nps", "won_count"])], [], ["value:sum"]
        )
        self.assertFalse(value)

    def test_web_read_group_path(self):
        """The pivot and list views go through formatted_read_group."""
        groups = self.env["crm.kpi.value"].formatted_read_group(
            [("kpi_code", "=", "close_rate")], ["date:month"], ["value:sum"]
        )
        self.assertEqual([round(g["value:sum"], 2) for g in groups], [100, 50, 50])


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
