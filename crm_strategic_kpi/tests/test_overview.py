from datetime import date

from freezegun import freeze_time

from odoo.tests import HttpCase, tagged
from odoo.tools.safe_eval import safe_eval

from .common import KpiCommon


@tagged("post_install", "-at_install")
class TestOverview(KpiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["crm.kpi.run"].recompute(
            date_from=date(2026, 1, 1), date_to=date(2026, 4, 1)
        )

    def data(self, **kwargs):
        with freeze_time("2026-03-15"):
            return self.env["crm.kpi.value"].get_overview_data(**kwargs)

    def cards(self, **kwargs):
        return {card["code"]: card for card in self.data(**kwargs)["cards"]}

    def test_month_compares_complete_months(self):
        """On 15 March the default compares February with January, and
        says so."""
        data = self.data(period="month")
        self.assertEqual(
            (data["label"], data["previous_label"]), ("February 2026", "January 2026")
        )
        cards = {card["code"]: card for card in data["cards"]}
        revenue = cards["won_revenue"]
        # February: L3 500; January: L1 1000 + L2 2000
        self.assertEqual((revenue["value"], revenue["previous"]), (500, 3000))
        self.assertEqual(revenue["change"], -2500)
        self.assertAlmostEqual(revenue["change_pct"], -83.33, places=2)
        self.assertIs(revenue["good"], False)
        # win rate February 1 of 2 (L3 won, L4 lost), January 2 of 2
        close = cards["close_rate"]
        self.assertEqual((close["value"], close["previous"]), (50, 100))
        self.assertIs(close["good"], False)

    def test_month_to_date(self):
        data = self.data(period="month", to_date=True)
        self.assertEqual(
            (data["label"], data["previous_label"]),
            ("March 2026 to 15 Mar (to date)", "February 2026"),
        )
        cards = {card["code"]: card for card in data["cards"]}
        revenue = cards["won_revenue"]
        # March 3000 against February 500, not coloured: March is not over
        self.assertEqual((revenue["value"], revenue["previous"]), (3000, 500))
        self.assertEqual(revenue["change"], 2500)
        self.assertEqual(revenue["change_pct"], 500)
        self.assertIsNone(revenue["good"])
        churn = cards["churn_rate"]
        self.assertEqual((churn["value"], churn["previous"]), (50, 0))
        self.assertIsNone(churn["good"])
        # win rate 1/2 in both months: no change, no colour
        self.assertEqual(cards["close_rate"]["change"], 0)
        self.assertIsNone(cards["close_rate"]["good"])
        # 12 months of sparkline, April 2025 .. March 2026
        self.assertEqual(revenue["spark"], [0] * 9 + [3000, 500, 3000])
        self.assertEqual(cards["close_rate"]["spark"][-3:], [100, 50, 50])
        self.assertIsNone(cards["close_rate"]["spark"][0])
        # only favourite KPIs
        self.assertNotIn("referrals", cards)

    def test_year_compares_the_same_months(self):
        """On 15 March the year is January and February 2026 against
        January and February 2025: won revenue 1000 + 2000 + 500 against
        L0's 400; win rate 3 of 4 (L4 lost) against 1 of 1."""
        self.env["crm.kpi.run"].recompute(
            date_from=date(2025, 1, 1), date_to=date(2026, 4, 1)
        )
        data = self.data(period="year")
        self.assertEqual(
            (data["label"], data["previous_label"]),
            ("January to February 2026", "January to February 2025"),
        )
        cards = {card["code"]: card for card in data["cards"]}
        self.assertEqual(
            (cards["won_revenue"]["value"], cards["won_revenue"]["previous"]),
            (3500, 400),
        )
        self.assertIs(cards["won_revenue"]["good"], True)
        self.assertEqual(
            (cards["close_rate"]["value"], cards["close_rate"]["previous"]), (75, 100)
        )

    def test_quarter_is_ratio_of_sums(self):
        # the last complete quarter (Q4 2025) has no figures
        data = self.data(period="quarter")
        self.assertEqual(
            (data["label"], data["previous_label"]),
            ("October to December 2025", "July to September 2025"),
        )
        cards = self.cards(period="quarter", to_date=True)
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
        cards = self.cards(period="month", team_id=self.team2.id, to_date=True)
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
                .get_overview_data(period="quarter", to_date=True)
            )
        revenue = {c["code"]: c for c in data["cards"]}["won_revenue"]
        self.assertEqual(revenue["value"], 2000)  # only team T2's L2


@tagged("post_install", "-at_install")
class TestKpiTours(KpiCommon, HttpCase):
    """The app as users meet it, in headless Chromium."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["crm.kpi.run"].recompute(date_from=date(2026, 1, 1))

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


@tagged("post_install", "-at_install")
class TestAnalysisActions(KpiCommon):
    def test_trend_graph_draws_one_kpi(self):
        """KPIs of every unit side by side only in pivot and list; the trend
        graph opens on one KPI (won revenue), lines not stacked."""
        analysis = self.env.ref("crm_strategic_kpi.crm_kpi_value_action")
        self.assertNotIn("graph", analysis.view_mode)
        trend = self.env.ref("crm_strategic_kpi.crm_kpi_value_action_trend")
        self.assertEqual(trend.view_mode.split(",")[0], "graph")
        context = safe_eval(trend.context)
        self.assertEqual(
            context["search_default_kpi_id"],
            self.env.ref("crm_strategic_kpi.kpi_won_revenue").id,
        )
        arch = self.env["crm.kpi.value"].get_view(view_type="graph")["arch"]
        self.assertIn('stacked="0"', arch)

    def test_kpis_are_named_with_their_unit(self):
        """Pivot rows, graph legends and lists show each KPI with its unit."""
        ref = self.env.ref
        self.assertEqual(
            ref("crm_strategic_kpi.kpi_close_rate").display_name, "Win rate (%)"
        )
        self.assertEqual(
            ref("crm_strategic_kpi.kpi_won_revenue").display_name,
            f"Won revenue ({self.company.currency_id.symbol})",
        )
        self.assertEqual(
            ref("crm_strategic_kpi.kpi_sales_cycle_days").display_name,
            "Sales-cycle length (days)",
        )
        self.assertEqual(
            ref("crm_strategic_kpi.kpi_lead_count").display_name, "New leads (count)"
        )
