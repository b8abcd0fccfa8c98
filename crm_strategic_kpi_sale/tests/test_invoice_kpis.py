from datetime import date

from odoo.tests import tagged
from odoo.tools import SQL

from .common import SaleKpiCommon


@tagged("post_install", "-at_install")
class TestInvoiceKpis(SaleKpiCommon):
    """Revenue source "posted customer invoices".

    Invoices (I3 in the foreign currency; R2 a credit note of X's contact
    X2, a month after X's invoice; D4 a draft)::

        I1  X1  2026-01-12  P1 2 x 100       revenue 200, profit 200 - 120 = 80
        R2  X2  2026-02-05  P1 1 x 100       revenue -100, profit -100 + 60 = -40
        I3  Y   2026-02-20  P3 1 x 400 F     revenue 200, profit 200 - 20 = 180
        D4  X1  2026-02-01  P1 5 x 100       draft: counts nowhere

    Activity (churn after 60 days; a credit note is no purchase): X from 12
    January to 13 March, Y from 20 February to 21 April. Active at the end
    of January: X; of February: X and Y; of March: Y.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.kpi_revenue_source = "invoice"
        cls.i1 = cls.invoice(cls.x1, date(2026, 1, 12), [(cls.p1, 2, 100)])
        cls.r2 = cls.invoice(
            cls.x2, date(2026, 2, 5), [(cls.p1, 1, 100)], move_type="out_refund"
        )
        cls.i3 = cls.invoice(
            cls.cust_y,
            date(2026, 2, 20),
            [(cls.p3, 1, 400)],
            currency_id=cls.foreign.id,
        )
        cls.d4 = cls.invoice(cls.x1, date(2026, 2, 1), [(cls.p1, 5, 100)], post=False)
        cls.env["crm.kpi.run"].recompute(date_from=cls.JAN, date_to=cls.APR)

    def test_foreign_invoice_in_company_currency(self):
        self.assertAlmostEqual(self.i3.amount_untaxed, 400)
        self.assertAlmostEqual(self.i3.amount_untaxed_signed, 200)

    def test_customers_follow_invoices(self):
        self.assertMonths("new_customers", {self.JAN: (1, 0), self.FEB: (1, 0)})
        # X churns in March (13 March): one of the two active on 1 March
        self.assertMonths(
            "churn_rate",
            {self.FEB: (0, 1), self.MAR: (1, 2), self.APR: (1, 1)},
        )

    def test_credit_note_reduces_profit_not_purchases(self):
        # Feb: X 80 - 40 and Y 180; Mar: Y 180
        self.assertMonths(
            "profit_per_customer",
            {self.JAN: (80, 1), self.FEB: (220, 2), self.MAR: (180, 1)},
        )
        self.assertMonths(
            "purchase_frequency",
            {self.JAN: (1, 1), self.FEB: (2, 2), self.MAR: (1, 1)},
        )
        self.assertMonths(
            "average_order_value", {self.JAN: (200, 1), self.FEB: (200, 1)}
        )
        # new revenue: the credit note counts against it (-100 + 200)
        self.assertMonths("new_revenue", {self.JAN: (200, 0), self.FEB: (100, 0)})

    def test_clv_and_products(self):
        """CLV: 10 years while nobody churned; in March X churned of nobody
        active twelve months before: 1 year."""
        self.assertMonths(
            "clv", {self.JAN: (800, 1), self.FEB: (2200, 2), self.MAR: (180, 1)}
        )
        self.assertMonths(
            "products_per_customer",
            {self.JAN: (1, 1), self.FEB: (2, 2), self.MAR: (1, 1)},
        )

    def test_drill_down_to_invoices(self):
        facts = self.env["crm.kpi.value"].search(
            [("kpi_code", "=", "new_revenue"), ("date", "=", self.FEB)]
        )
        records = facts._get_numerator_records()
        self.assertEqual(records, {"account.move": {self.r2.id, self.i3.id}})

    def test_posting_queues_the_invoice_date(self):
        self.clear_queue()
        self.d4.action_post()
        self.assertIn(date(2026, 2, 1), self.queued_days())
        self.env["crm.kpi.changed.day"]._run_incremental()
        # D4 (revenue 500) joins February's purchases
        self.assertMonths(
            "average_order_value", {self.JAN: (200, 1), self.FEB: (700, 2)}
        )

    def test_cubes_equal_record_rows(self):
        """A run's cubes and the drill-down's rows give the same sums with
        credit notes, also one outside any activity: X is credited on 15
        April (it churned on 13 March) and buys again on 10 May. May's
        12-month profit of X: 80 - 40 - 40 + (100 - 20) = 80."""
        self.invoice(
            self.x1, date(2026, 4, 15), [(self.p1, 1, 100)], move_type="out_refund"
        )
        self.invoice(self.x1, date(2026, 5, 10), [(self.p3, 1, 100)])
        self.env.flush_all()
        may = date(2026, 5, 1)
        cr = self.env.cr

        def sums(query):
            cr.execute(
                SQL(
                    """
                    SELECT month, team_id, user_id, segment_id, campaign_id,
                           source_id, medium_id,
                           ROUND(SUM(num), 6), ROUND(SUM(den), 6)
                      FROM (%s) q
                     WHERE month BETWEEN %s AND %s
                     GROUP BY 1, 2, 3, 4, 5, 6, 7
                    HAVING SUM(num) <> 0 OR SUM(den) <> 0
                    """,
                    query,
                    self.JAN,
                    may,
                )
            )
            return set(cr.fetchall())

        run = self.env["crm.kpi.run"]._new_engine_run(
            self.company, may, month_from=self.JAN
        )
        with run:
            run.prepare()
            kpis = run.kpis()
            by_record = {
                kpi.code: sums(
                    kpi.adjust(run, run.records_query(kpi))
                    if kpi.adjust
                    else run.records_query(kpi)
                )
                for kpi in kpis
            }
            run.build_cubes(kpis)
            for kpi in kpis:
                with self.subTest(code=kpi.code):
                    self.assertEqual(sums(run.facts_query(kpi)[0]), by_record[kpi.code])
        profit = {row[0]: row[7:] for row in by_record["profit_per_customer"]}
        self.assertEqual(profit[may], (80, 1))
