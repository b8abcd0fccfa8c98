from datetime import date

from freezegun import freeze_time

from odoo.tests import HttpCase, tagged

from .common import KpiCommon


@tagged("post_install", "-at_install")
class TestOverview(KpiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["crm.kpi.value"].recompute(
            date_from=date(2026, 1, 1), date_to=date(2026, 4, 1)
        )

    def cards(self, **kwargs):
        with freeze_time("2026-03-15"):
            data = self.env["crm.kpi.value"].get_overview_data(**kwargs)
        return {card["code"]: card for card in data["cards"]}

    def test_month(self):
        cards = self.cards(period="month")
        revenue = cards["won_revenue"]
        # March 3000 against February 500
        self.assertEqual((revenue["value"], revenue["previous"]), (3000, 500))
        self.assertEqual(revenue["change"], 2500)
        self.assertEqual(revenue["change_pct"], 500)
        self.assertIs(revenue["good"], True)
        # churn: March 50 % against February 0 %: worse (lower is better)
        churn = cards["churn_rate"]
        self.assertEqual((churn["value"], churn["previous"]), (50, 0))
        self.assertIs(churn["good"], False)
        # win rate 1/2 in both months: no change, no colour
        self.assertEqual(cards["close_rate"]["change"], 0)
        self.assertIsNone(cards["close_rate"]["good"])
        # 12 months of sparkline, April 2025 .. March 2026
        self.assertEqual(revenue["spark"], [0] * 9 + [3000, 500, 3000])
        self.assertEqual(cards["close_rate"]["spark"][-3:], [100, 50, 50])
        self.assertIsNone(cards["close_rate"]["spark"][0])
        # only favourite KPIs
        self.assertNotIn("referrals", cards)

    def test_quarter_is_ratio_of_sums(self):
        cards = self.cards(period="quarter")
        # Q1: won 2 + 1 + 1 of closed 2 + 2 + 2
        self.assertAlmostEqual(cards["close_rate"]["value"], 66.6667, places=3)
        self.assertIsNone(cards["close_rate"]["previous"])  # nothing in Q4 2025
        self.assertEqual(cards["won_revenue"]["value"], 6500)
        self.assertEqual(cards["won_revenue"]["previous"], 0)
        self.assertIsNone(cards["won_revenue"]["change_pct"])

    def test_team_filter_and_goals(self):
        goal = self.env["crm.kpi.goal"].create(
            {
                "name": "More revenue",
                "kpi_id": self.env.ref("crm_strategic_kpi.kpi_won_revenue").id,
                "description": "<p>Plan</p>",
                "achievable_note": "Yes",
                "objective_id": self.env.ref(
                    "crm_strategic_kpi.objective_sell_more"
                ).id,
                "target_value": 5000,
                "baseline_value": 1000,
                "has_baseline": True,
                "date_start": date(2026, 2, 1),
                "date_deadline": date(2026, 6, 30),
            }
        )
        with freeze_time("2026-03-15"):
            goal.action_start()
        cards = self.cards(period="month", team_id=self.team2.id)
        # T2 won nothing in March, 0 in February; L2 (2000) was January
        self.assertEqual(cards["won_revenue"]["value"], 0)
        self.assertEqual(cards["won_revenue"]["spark"][-3:], [2000, 0, 0])
        self.assertEqual(
            [(g["name"], g["status"]) for g in cards["won_revenue"]["goals"]],
            [("More revenue", goal.status)],
        )

    def test_salesperson_sees_own_team_figures(self):
        with freeze_time("2026-03-15"):
            data = (
                self.env["crm.kpi.value"]
                .with_user(self.user2)
                .get_overview_data(period="quarter")
            )
        revenue = {c["code"]: c for c in data["cards"]}["won_revenue"]
        self.assertEqual(revenue["value"], 2000)  # only team T2's L2


@tagged("post_install", "-at_install")
class TestKpiTours(KpiCommon, HttpCase):
    """The app as users meet it, in headless Chromium."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["crm.kpi.value"].recompute(date_from=date(2026, 1, 1))

    def test_overview_pivot_graph(self):
        self.start_tour(
            "/odoo/action-crm_strategic_kpi.crm_kpi_overview_action",
            "crm_strategic_kpi_overview_tour",
            login="admin",
        )

    def test_create_and_start_goal(self):
        self.start_tour(
            "/odoo/action-crm_strategic_kpi.crm_kpi_goal_action",
            "crm_strategic_kpi_goal_tour",
            login="admin",
        )
        goal = self.env["crm.kpi.goal"].search([("name", "=", "Win more deals")])
        self.assertEqual(goal.state, "running")
        self.assertEqual(goal.target_value, 60)

    def test_answer_feedback_page(self):
        Request = self.env["crm.kpi.feedback.request"]
        req = Request.create(Request._prepare_request_values(self.l5, self.cust_c))
        self.start_tour(
            f"/kpi/feedback/{req.sudo().token}/9", "crm_strategic_kpi_feedback_tour"
        )
        self.assertEqual(req.feedback_id.score, 9)
        self.assertEqual(req.feedback_id.comment, "Schnell und freundlich")
