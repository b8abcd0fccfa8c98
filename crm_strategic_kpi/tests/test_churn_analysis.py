from datetime import date

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import KpiCommon

MAR, APR = date(2026, 3, 1), date(2026, 4, 1)


@tagged("post_install", "-at_install")
class TestChurnAnalysis(KpiCommon):
    """Churn after 60 days. March: A (last deal 10 Feb, in S1, first deal
    15 Jan 2025) stays, B (last deal 20 Jan, S2, first deal that day)
    churns on 21 March. April: A churns on 11 April, C (deal 5 March, S1)
    stays."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, login="kpi_churn_mgr", groups="sales_team.group_sale_manager"
        )

    def analyse(self, month, user=None):
        Analysis = self.env["crm.kpi.churn.analysis"].with_user(user or self.manager)
        analysis = Analysis.create({"month": month, "company_id": self.company.id})
        action = analysis.action_analyse()
        return (
            self.env[action["res_model"]]
            .with_user(user or self.manager)
            .search(action["domain"])
        )

    def rates(self, lines, groupby):
        return {
            key: (customers, rate)
            for key, customers, rate in lines._read_group(
                [("id", "in", lines.ids)],
                [groupby],
                ["customers:sum", "churn_rate:avg"],
            )
        }

    def test_march_by_segment_and_tenure(self):
        lines = self.analyse(MAR)
        self.assertEqual(
            {(line.partner_id, line.churned, line.tenure) for line in lines},
            {(self.cust_a, False, "1_2y"), (self.cust_b, True, "under_1y")},
        )
        self.assertEqual(
            self.rates(lines, "segment_id"),
            {self.seg1: (1, 0.0), self.seg2: (1, 100.0)},
        )
        # all customers: 1 of 2 churned, the churn-rate KPI's March figure
        self.recompute(kpi_codes=["churn_rate"])
        self.assertEqual(self.month_value("churn_rate", MAR), (1, 2, 50))
        [(customers, rate)] = lines._read_group(
            [("id", "in", lines.ids)], [], ["customers:sum", "churn_rate:avg"]
        )
        self.assertEqual((customers, rate), (2, 50.0))

    def test_april(self):
        lines = self.analyse(APR)
        self.assertEqual(
            {(line.partner_id, line.churned, line.tenure) for line in lines},
            {(self.cust_a, True, "1_2y"), (self.cust_c, False, "under_1y")},
        )
        self.assertEqual(self.rates(lines, "segment_id"), {self.seg1: (2, 50.0)})

    def test_for_those_who_see_all_figures_only(self):
        with self.assertRaises(AccessError):
            self.analyse(MAR, user=self.user1)
        mine = self.analyse(MAR)
        other = new_test_user(
            self.env, login="kpi_churn_mgr2", groups="sales_team.group_sale_manager"
        )
        self.assertFalse(
            self.env["crm.kpi.churn.analysis.line"]
            .with_user(other)
            .search([("id", "in", mine.ids)])
        )
