"""The running month is counted as of now, and counted to its end once over."""

from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged

from .common import KpiCommon

FEB, MAR = date(2026, 2, 1), date(2026, 3, 1)


@tagged("post_install", "-at_install")
class TestRunningMonth(KpiCommon):
    def test_running_month_counts_what_happened_by_now(self):
        """On 10 March 2026 (13:00 in Berlin), March is the running month.

        - Churn: A and B are active on 1 March; B's only deal (L2, 20
          January) keeps it active for 60 days, until 21 March: it has not
          churned yet. 0 of 2 (the whole month: 1 of 2).
        - Repeat customers: active now are A, B and C (L5, 5 March); A alone
          has two deals or more: 1 of 3 (at the end of March: A and C, 1 of 2).
        - Acquisition cost: March's 400 marketing costs count for the 10 of
          31 days that have passed, 400 x 10 / 31 = 129.03, for C, the new
          customer: 129.03 (the whole month: 400).
        """
        with freeze_time("2026-03-10 12:00:00"):
            self.recompute(date_to=MAR)
        self.assertEqual(self.month_value("churn_rate", MAR), (0, 2, 0))
        self.assertEqual(self.month_value("retention_rate", MAR), (2, 2, 100))
        num, den, value = self.month_value("repeat_customers", MAR)
        self.assertEqual((num, den), (1, 3))
        self.assertAlmostEqual(value, 33.3333, places=3)
        num, den, value = self.month_value("cac", MAR)
        self.assertAlmostEqual(num, 4000 / 31, places=6)
        self.assertEqual(den, 1)
        self.assertAlmostEqual(value, 129.03, places=2)
        # March's facts and totals say the month was running
        march = self.env["crm.kpi.value"].search([("date", "=", MAR)])
        self.assertTrue(march and all(march.mapped("month_to_date")))
        february = self.env["crm.kpi.value"].search([("date", "=", FEB)])
        self.assertTrue(february and not any(february.mapped("month_to_date")))
        totals = self.env["crm.kpi.total"].search([("date", "=", MAR)])
        self.assertTrue(totals and all(totals.mapped("month_to_date")))

        # on 2 April the scheduled run counts March to its end, though
        # nothing changed in it since
        self.env["crm.kpi.changed.day"].search([]).unlink()
        with freeze_time("2026-04-02 10:00:00"):
            self.env["crm.kpi.changed.day"]._run_incremental()
        self.env.invalidate_all()
        self.assertEqual(self.month_value("churn_rate", MAR), (1, 2, 50))
        self.assertEqual(self.month_value("repeat_customers", MAR), (1, 2, 50))
        self.assertEqual(self.month_value("cac", MAR), (400, 1, 400))
        march = self.env["crm.kpi.value"].search([("date", "=", MAR)])
        self.assertFalse(any(march.mapped("month_to_date")))
