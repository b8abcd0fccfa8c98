from datetime import date, datetime

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import SaleKpiCommon


@tagged("post_install", "-at_install")
class TestSaleOrderKpis(SaleKpiCommon):
    """Revenue source "confirmed sale orders".

    Orders (X1 and X2 are contacts of X; O3 is in the foreign currency and
    belongs to the deal L won on 18 February with an expected revenue of
    1000)::

        O1  X1  2026-01-10  P1 2 x 100                  revenue 200
        O2  X2  2026-02-15  P2 1 x 300, P3 1 x 100      revenue 400
        O3  Y   2026-02-20  P1 1 x 400 F (rate 2)       revenue 200
        O4  Z   2026-03-05  P1 10 x 100, cancelled
        O5  X1  2026-03-11  P1 1 x 100                  revenue 100

    Profit (revenue minus cost; P2 has no cost: 50 % margin): O1 200 - 2 x
    60 = 80; O2 150 + (100 - 20) = 230; O3 200 - 60 = 140; O5 100 - 60 = 40.
    O2 buys the category Service, new to X, which bought before: a
    cross-sell. X buys P1 twice.

    Activity (churn after 60 days): X from 10 January to 10 May (its orders
    are less than 60 days apart), Y from 20 February to 21 April. Active at
    the end of January: X; of February and March: X and Y; of April: X
    (Y churns in April).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.kpi_revenue_source = "sale_order"
        cls.deal = cls.env["crm.lead"].create(
            {
                "name": "L",
                "type": "opportunity",
                "partner_id": cls.cust_y.id,
                "expected_revenue": 1000,
            }
        )
        cls.deal.action_set_won()
        cls.deal.flush_recordset()
        cls.env.cr.execute(
            "UPDATE crm_lead SET create_date = %s, date_closed = %s WHERE id = %s",
            (datetime(2026, 2, 1, 12), datetime(2026, 2, 18, 12), cls.deal.id),
        )
        cls.deal.invalidate_recordset()
        Source = cls.env["utm.source"]
        cls.newsletter, cls.fair = Source.create(
            [{"name": "Newsletter"}, {"name": "Fair"}]
        )
        cls.o1 = cls.order(
            cls.x1, date(2026, 1, 10), [(cls.p1, 2, 100)], source_id=cls.newsletter.id
        )
        cls.o2 = cls.order(
            cls.x2,
            date(2026, 2, 15),
            [(cls.p2, 1, 300), (cls.p3, 1, 100)],
            source_id=cls.fair.id,
        )
        cls.company_b = cls.env["res.company"].create({"name": "Firma B"})
        cls.user_b = new_test_user(
            cls.env,
            login="kpi_sale_b",
            groups="sales_team.group_sale_manager",
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
        )
        # X (shared between the companies) buys services for 5000 from
        # Firma B: none of the main company's figures
        cls.order(
            cls.x1,
            date(2026, 2, 10),
            [(cls.p3, 50, 100)],
            company_id=cls.company_b.id,
        )
        cls.seller_t1 = new_test_user(
            cls.env, login="kpi_sale_t1", groups="sales_team.group_sale_salesman"
        )
        cls.seller_t2 = new_test_user(
            cls.env, login="kpi_sale_t2", groups="sales_team.group_sale_salesman"
        )
        Team = cls.env["crm.team"]
        cls.team1 = Team.create({"name": "T1", "member_ids": cls.seller_t1.ids})
        cls.team2 = Team.create({"name": "T2", "member_ids": cls.seller_t2.ids})
        cls.o3 = cls.order(
            cls.cust_y,
            date(2026, 2, 20),
            [(cls.p1, 1, 400)],
            pricelist_id=cls.foreign_pricelist.id,
            opportunity_id=cls.deal.id,
            team_id=cls.team2.id,
            user_id=cls.seller_t2.id,
        )
        cls.o4 = cls.order(cls.cust_z, date(2026, 3, 5), [(cls.p1, 10, 100)])
        cls.o4._action_cancel()
        cls.o5 = cls.order(
            cls.x1, date(2026, 3, 11), [(cls.p1, 1, 100)], source_id=cls.newsletter.id
        )
        # the teams are those of the orders, whoever entered them
        (cls.o1 | cls.o2 | cls.o5).write({"team_id": cls.team1.id})
        cls.env["crm.kpi.run"].recompute(date_from=cls.JAN, date_to=cls.APR)

    def test_orders_in_company_currency(self):
        self.assertEqual(self.o3.currency_id, self.foreign)
        self.assertAlmostEqual(self.o3.amount_untaxed, 400)
        self.assertAlmostEqual(self.o3.currency_rate, 2.0)

    def test_customers_follow_orders(self):
        """X buys only through orders, through two contacts: one customer;
        Z's only order is cancelled: no customer."""
        self.assertMonths("new_customers", {self.JAN: (1, 0), self.FEB: (1, 0)})
        self.assertMonths(
            "repeat_customers",
            {
                self.JAN: (0, 1),
                self.FEB: (1, 2),
                self.MAR: (1, 2),
                self.APR: (1, 1),
            },
        )
        # Y churns in April: one of the two customers active on 1 April
        self.assertMonths(
            "churn_rate",
            {
                self.JAN: (0, 0),
                self.FEB: (0, 1),
                self.MAR: (0, 2),
                self.APR: (1, 2),
            },
        )

    def test_purchase_frequency(self):
        # orders of the last 12 months of the customers active at the end
        # of the month: Jan X 1; Feb X 2 + Y 1; Mar X 3 + Y 1; Apr X 3
        self.assertMonths(
            "purchase_frequency",
            {
                self.JAN: (1, 1),
                self.FEB: (3, 2),
                self.MAR: (4, 2),
                self.APR: (3, 1),
            },
        )

    def test_profit_per_customer(self):
        # Jan X 80; Feb X 80 + 230, Y 140; Mar X 350, Y 140; Apr X 350
        self.assertMonths(
            "profit_per_customer",
            {
                self.JAN: (80, 1),
                self.FEB: (450, 2),
                self.MAR: (490, 2),
                self.APR: (350, 1),
            },
        )

    def test_clv_uses_the_real_margin(self):
        """The 12-month profit x the lifespan: 10 years while nobody
        churned; in April one churned (Y) of nobody active twelve months
        before: 1 year. (With won deals it would be revenue x 50 %.)"""
        self.assertMonths(
            "clv",
            {
                self.JAN: (800, 1),
                self.FEB: (4500, 2),
                self.MAR: (4900, 2),
                self.APR: (350, 1),
            },
        )

    def test_products_per_customer(self):
        """Distinct products of the last 12 months: X P1 in January, P1, P2
        and P3 from February (P1 bought twice counts once); Y P1."""
        self.assertMonths(
            "products_per_customer",
            {
                self.JAN: (1, 1),
                self.FEB: (4, 2),
                self.MAR: (4, 2),
                self.APR: (3, 1),
            },
        )

    def test_average_order_value(self):
        # Jan O1 200; Feb O2 400 + O3 200; Mar O5 100 (O4 cancelled)
        self.assertMonths(
            "average_order_value",
            {self.JAN: (200, 1), self.FEB: (600, 2), self.MAR: (100, 1)},
        )

    def test_cross_sell_is_a_new_category(self):
        # February: X bought Service for the first time (O2)
        self.assertMonths(
            "cross_sell_rate",
            {
                self.JAN: (0, 1),
                self.FEB: (1, 2),
                self.MAR: (0, 2),
                self.APR: (0, 1),
            },
        )

    def test_revenue(self):
        """A won deal is worth its confirmed orders (O3: 200, not the
        expected 1000); new revenue is that of the purchases within 180
        days of the customer's first."""
        self.assertMonths("won_revenue", {self.FEB: (200, 0)})
        self.assertMonths(
            "new_revenue",
            {self.JAN: (200, 0), self.FEB: (600, 0), self.MAR: (100, 0)},
        )

    def test_drill_down_to_orders(self):
        facts = self.env["crm.kpi.value"].search(
            [("kpi_code", "=", "average_order_value"), ("date", "=", self.FEB)]
        )
        action = facts.action_open_records()
        self.assertEqual(action["res_model"], "sale.order")
        self.assertEqual(
            self.env["sale.order"].search(action["domain"]), self.o2 | self.o3
        )

    def test_next_purchase_from_orders(self):
        """Orders on 10 January, 15 February, 11 March: intervals of 36 and
        24 days, median 30: the next purchase is expected on 10 April."""
        self.cust_x._kpi_refresh_customers(today=date(2026, 3, 20))
        self.assertEqual(self.cust_x.next_purchase_date, date(2026, 4, 10))
        self.assertEqual(self.cust_x.lifecycle_stage, "active")

    def test_changes_queue_their_days(self):
        self.clear_queue()
        order = self.order(self.cust_z, date(2026, 3, 25), [(self.p3, 1, 50)])
        self.assertIn(date(2026, 3, 25), self.queued_days())
        self.clear_queue()
        order.order_line.product_uom_qty = 2
        self.assertIn(date(2026, 3, 25), self.queued_days())
        self.clear_queue()
        order._action_cancel()
        self.assertIn(date(2026, 3, 25), self.queued_days())
        # the deal of an order: its won revenue changes
        self.clear_queue()
        self.o3.order_line.price_unit = 600
        self.assertIn(date(2026, 2, 18), self.queued_days())
        # the recompute of the queued months follows
        self.env["crm.kpi.changed.day"]._run_incremental()
        self.assertMonths("won_revenue", {self.FEB: (300, 0)})

    def test_switching_the_source_queues_every_month(self):
        self.clear_queue()
        self.company.kpi_revenue_source = "expected_revenue"
        self.assertTrue(self.queued_days())
        self.recompute()
        # with won deals: one customer (Y, through L), no products
        self.assertMonths("new_customers", {self.FEB: (1, 0)})
        self.assertMonths("products_per_customer", {})
        self.assertMonths("won_revenue", {self.FEB: (1000, 0)})

    def test_customer_insight(self):
        """Favourite category by revenue (X: Hardware 600 against Service
        100); the channel of most orders (X: Newsletter twice, Fair once);
        price range by the median unit price of the lines (X 100, Y 400 F =
        200) against the terciles of all medians (133.33 and 166.67)."""
        self.env["res.partner"]._kpi_refresh_purchase_insight(date(2026, 3, 20))
        self.assertEqual(self.cust_x.kpi_favourite_categ_id, self.hardware)
        self.assertEqual(self.cust_y.kpi_favourite_categ_id, self.hardware)
        self.assertEqual(self.cust_x.kpi_purchase_source_id, self.newsletter)
        self.assertFalse(self.cust_y.kpi_purchase_source_id)
        self.assertEqual(self.cust_x.kpi_price_band, "low")
        self.assertEqual(self.cust_y.kpi_price_band, "high")
        # contacts carry their company's insight
        self.assertEqual(self.x1.kpi_favourite_categ_id, self.hardware)
        self.assertFalse(self.cust_z.kpi_favourite_categ_id)
        # the churn analysis of April: X and Y active on 1 April; Y made no
        # purchase for 60 days by 30 April (last on 20 February): churned
        analysis = self.env["crm.kpi.churn.analysis"].create(
            {"month": self.APR, "company_id": self.company.id}
        )
        analysis._compute_lines()
        lines = {
            line.partner_id: line
            for line in self.env["crm.kpi.churn.analysis.line"].search(
                [("analysis_id", "=", analysis.id)]
            )
        }
        self.assertEqual(set(lines), {self.cust_x, self.cust_y})
        self.assertFalse(lines[self.cust_x].churned)
        self.assertTrue(lines[self.cust_y].churned)
        self.assertEqual(lines[self.cust_x].source_id, self.newsletter)
        self.assertEqual(lines[self.cust_x].favourite_categ_id, self.hardware)
        self.assertEqual(lines[self.cust_y].price_band, "high")

    def test_facts_and_records_follow_the_facts_rules(self):
        """A salesperson opens the orders behind the figures of his own team
        only; a user of another company sees none of them."""
        Value = self.env["crm.kpi.value"]
        domain = [("kpi_code", "=", "average_order_value"), ("date", "=", self.FEB)]
        facts_t2 = Value.with_user(self.seller_t2).search(domain)
        self.assertEqual(facts_t2.team_id, self.team2)
        self.assertEqual(
            facts_t2._get_numerator_records(), {"sale.order": {self.o3.id}}
        )
        facts_t1 = Value.with_user(self.seller_t1).search(domain)
        self.assertEqual(facts_t1.team_id, self.team1)
        self.assertEqual(
            facts_t1._get_numerator_records(), {"sale.order": {self.o2.id}}
        )
        self.assertFalse(Value.with_user(self.user_b).search(domain))
        with self.assertRaises(AccessError):
            facts_t2.sudo().with_user(self.user_b)._get_numerator_records()
        with self.assertRaises(AccessError):
            facts_t1.sudo().with_user(self.seller_t2)._get_numerator_records()
