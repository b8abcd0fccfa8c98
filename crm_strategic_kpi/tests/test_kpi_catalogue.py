"""Every KPI of the catalogue against numbers worked out by hand."""

from datetime import date, datetime, timedelta
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.engine import Run
from odoo.addons.crm_strategic_kpi.models import crm_kpi_value

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

    def test_purchase_kpis_with_won_deals(self):
        """With won deals as revenue source a purchase is a won deal, its
        profit the revenue x the 50 % margin. Active at the end of the month
        (churn after 60 days): Jan A, B; Feb A, B; Mar A, C; Apr C."""
        # won deals dated in the month: Jan L1 1000 + L2 2000; Feb L3 500;
        # Mar L5 3000
        self.assertMonths(
            "average_order_value",
            {1: (3000, 2, 1500), 2: (500, 1, 500), 3: (3000, 1, 3000)},
        )
        # deals of the 12 months ending the month (L0 of January 2025 falls
        # out): Jan A 1 + B 1; Feb A 2 + B 1; Mar A 2 + C 1; Apr C 1
        self.assertMonths(
            "purchase_frequency",
            {1: (2, 2, 1), 2: (3, 2, 1.5), 3: (3, 2, 1.5), 4: (1, 1, 1)},
        )
        # Jan A 500 + B 1000; Feb A 750 + B 1000; Mar A 750 + C 1500; Apr C
        self.assertMonths(
            "profit_per_customer",
            {
                1: (1500, 2, 750),
                2: (1750, 2, 875),
                3: (2250, 2, 1125),
                4: (1500, 1, 1500),
            },
        )
        # no products without orders or invoices: no figures at all
        self.assertMonths("products_per_customer", {})

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
                # logins; contacts; purchases; customers; lifecycle stages
                # (and the helpdesk bridge's tickets when it is installed)
                bridged = "ticket" in engine.catalogue.sources
                self.assertEqual(cr.fetchone()[0], 10 + bridged)
                for kpi in kpis:
                    with self.subTest(code=kpi.code, month_from=month_from):
                        self.assertEqual(
                            sums(engine.facts_query(kpi)[0], first), by_record[kpi.code]
                        )
                self.assertTrue(by_record["retention_rate"] and by_record["close_rate"])
                self.assertTrue(by_record["repeat_customers"] and by_record["clv"])
                self.assertTrue(by_record["cross_sell_rate"])
                self.assertTrue(by_record["purchase_frequency"])
                self.assertTrue(by_record["profit_per_customer"])
                self.assertTrue(by_record["average_order_value"])
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
        # the facts of many salespeople: a run over every lead
        with patch.object(crm_kpi_value, "DRILL_DOWN_USERS", 1):
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
