from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import KpiCommon


@tagged("post_install", "-at_install")
class TestSmartGoals(KpiCommon):
    """Goals on the fixture's figures (see common.KpiCommon).

    Monthly figures used below (company-wide: the goals' owner is a sales
    manager, who reads every team's figures):
    won revenue Jan 3000, Feb 500, Mar 3000, Apr none;
    sales cycle Jan 51 days / 2 deals, Feb 21 / 1, Mar 30 / 1;
    win rate Feb 1 / 2, Mar 1 / 2; won deals Jan 2, Feb 1, Mar 1.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["crm.kpi.run"].recompute(
            date_from=date(2026, 1, 1), date_to=date(2026, 4, 1)
        )
        cls.kpi = {k.code: k for k in cls.env["crm.kpi"].search([])}
        cls.sell_more = cls.env.ref("crm_strategic_kpi.objective_sell_more")
        cls.cycle = cls.env.ref("crm_strategic_kpi.objective_sales_cycle")
        cls.planner = new_test_user(
            cls.env, login="kpi_planner", groups="sales_team.group_sale_manager"
        )

    def goal(self, **vals):
        defaults = {
            "name": "Goal",
            "description": "<p>Plan</p>",
            "user_id": self.planner.id,
            "achievable_note": "We can.",
            "objective_id": self.sell_more.id,
        }
        return self.env["crm.kpi.goal"].create({**defaults, **vals})

    def test_higher_is_better(self):
        goal = self.goal(
            kpi_id=self.kpi["won_revenue"].id,
            target_mode="relative",
            target_change_pct=50,
            baseline_months=1,
            date_start=date(2026, 2, 1),
            date_deadline=date(2026, 7, 31),
        )
        with freeze_time("2026-04-15"):
            goal.action_start()
        # baseline: Jan 3000 / 1 month; target +50 %
        self.assertAlmostEqual(goal.baseline_value, 3000)
        self.assertEqual(goal.baseline_period, "Jan 2026")
        with freeze_time("2026-04-15"):
            goal.invalidate_recordset(["current_period"])
            self.assertEqual(goal.current_period, "02/01/2026 to 04/15/2026 (to date)")
        self.assertAlmostEqual(goal.target_value, 4500)
        # current: (500 + 3000 + 0) / 3 months
        self.assertAlmostEqual(goal.current_value, 1166.67, places=2)
        # (1166.67 - 3000) / (4500 - 3000)
        self.assertAlmostEqual(goal.progress, -122.22, places=2)
        # 73 of 180 days
        self.assertAlmostEqual(goal.expected_progress, 40.56, places=2)
        # trend of 500, 3000, 0: slope -250 from 1166.67 at the middle month,
        # projected 4 months further to July
        self.assertAlmostEqual(goal.forecast_value, 166.67, places=2)
        self.assertEqual(goal.status, "off_track")
        # 12 months before: 0 x 11 then 3000 in January -> changes of
        # 0 (ten times) and +3000: standard deviation 862.44; needs 250/month
        self.assertAlmostEqual(goal.required_monthly_change, 250)
        self.assertAlmostEqual(goal.historical_monthly_change, 862.44, places=2)
        self.assertFalse(goal.ambitious)
        # the bar stays within 0-100 %, the exact figure beside it
        self.assertEqual(goal.progress_bar, 0.0)

    def test_lower_is_better(self):
        goal = self.goal(
            kpi_id=self.kpi["sales_cycle_days"].id,
            objective_id=self.cycle.id,
            target_mode="absolute",
            target_value=20,
            baseline_months=2,
            date_start=date(2026, 3, 1),
            date_deadline=date(2026, 5, 31),
        )
        with freeze_time("2026-04-15"):
            goal.action_start()
        # baseline Jan + Feb: (51 + 21) / 3 deals; current Mar..Apr: 30 / 1
        self.assertAlmostEqual(goal.baseline_value, 24)
        self.assertEqual(goal.baseline_period, "Jan 2026 to Feb 2026")
        self.assertAlmostEqual(goal.current_value, 30)
        # (30 - 24) / (20 - 24): moving away from a lower target
        self.assertAlmostEqual(goal.progress, -150)
        self.assertEqual(goal.progress_bar, 0.0)
        self.assertAlmostEqual(goal.expected_progress, 49.45, places=2)  # 45/91
        self.assertAlmostEqual(goal.forecast_value, 30)  # one month of data
        self.assertEqual(goal.status, "off_track")

    def test_target_on_the_wrong_side_is_refused(self):
        """Won revenue is better higher: with January's 3000 as baseline a
        target of 2000 is refused; the sales cycle is better lower: with
        January's 51 days / 2 deals = 25.5 as baseline, 30 days is refused.
        The message names the baseline."""
        revenue = self.goal(
            kpi_id=self.kpi["won_revenue"].id,
            target_value=2000,
            baseline_months=1,
            date_start=date(2026, 2, 1),
            date_deadline=date(2026, 7, 31),
        )
        with self.assertRaisesRegex(UserError, r"above the baseline \(3000\.0\)"):
            revenue.action_start()
        self.assertEqual((revenue.state, revenue.status), ("draft", "not_started"))
        cycle = self.goal(
            kpi_id=self.kpi["sales_cycle_days"].id,
            objective_id=self.cycle.id,
            target_value=30,
            baseline_months=1,
            date_start=date(2026, 2, 1),
            date_deadline=date(2026, 7, 31),
        )
        with self.assertRaisesRegex(UserError, r"below the baseline \(25\.5\)"):
            cycle.action_start()
        cycle.target_value = 20
        with freeze_time("2026-04-15"):
            cycle.action_start()
        self.assertEqual(cycle.state, "running")

    def test_met_target_is_on_track(self):
        """A running goal whose current value meets its target is on track,
        whatever its progress says: sales cycle, baseline January 25.5 days,
        target 60 (set before targets were checked), current February to
        mid-April (21 + 30) / 2 = 25.5 <= 60; progress (25.5 - 25.5) /
        (60 - 25.5) = 0 % after 40.56 % of the time."""
        goal = self.goal(
            kpi_id=self.kpi["sales_cycle_days"].id,
            objective_id=self.cycle.id,
            target_value=60,
            baseline_value=25.5,
            has_baseline=True,
            date_start=date(2026, 2, 1),
            date_deadline=date(2026, 7, 31),
        )
        goal.state = "running"
        with freeze_time("2026-04-15"):
            goal._update_live_figures()
        self.assertAlmostEqual(goal.current_value, 25.5)
        self.assertAlmostEqual(goal.progress, 0.0)
        self.assertAlmostEqual(goal.expected_progress, 40.56, places=2)
        self.assertEqual(goal.status, "on_track")

    def test_board_has_a_column_per_status(self):
        groups = (
            self.env["crm.kpi.goal"]
            .with_context(read_group_expand=True)
            .formatted_read_group([], ["status"], ["__count"])
        )
        self.assertEqual(
            [g["status"] for g in groups],
            ["not_started", "on_track", "at_risk", "off_track"],
        )

    def test_ambitious_target_is_flagged(self):
        goal = self.goal(
            kpi_id=self.kpi["won_revenue"].id,
            target_mode="relative",
            target_change_pct=1000,
            baseline_months=1,
            date_start=date(2026, 2, 1),
            date_deadline=date(2026, 7, 31),
        )
        goal.action_capture_baseline()
        # (33000 - 3000) / 6 months = 5000 > 3 x 862.44
        self.assertAlmostEqual(goal.required_monthly_change, 5000)
        self.assertTrue(goal.ambitious)

    def test_not_smart_is_refused_with_every_criterion(self):
        goal = self.env["crm.kpi.goal"].create(
            {
                "name": "Vague",
                "user_id": False,
                "date_start": False,
                "date_deadline": False,
            }
        )
        with self.assertRaises(UserError) as caught:
            goal.action_start()
        message = str(caught.exception)
        for word in ("Specific", "Measurable", "Achievable", "Relevant", "Time-bound"):
            self.assertIn(word, message)
        self.assertEqual(goal.state, "draft")
        self.assertFalse(
            goal.smart_specific
            or goal.smart_measurable
            or goal.smart_achievable
            or goal.smart_relevant
            or goal.smart_time_bound
        )

    def test_relevance_needs_a_note_outside_the_objective(self):
        goal = self.goal(
            kpi_id=self.kpi["nps"].id,
            target_mode="absolute",
            target_value=50,
            date_start=date(2026, 2, 1),
            date_deadline=date(2026, 7, 31),
        )
        self.assertFalse(goal.smart_relevant)  # "sell more" does not list NPS
        with self.assertRaises(UserError) as caught:
            goal.action_start()
        self.assertIn("Relevant", str(caught.exception))
        self.assertNotIn("Specific", str(caught.exception))
        goal.relevance_note = "Happy customers buy again."
        self.assertTrue(goal.smart_relevant)

    def test_measurable_needs_a_baseline(self):
        # nothing was computed before 2026: no NPS figure in Dec 2025
        goal = self.goal(
            kpi_id=self.kpi["nps"].id,
            relevance_note="Loyalty",
            target_mode="relative",
            target_change_pct=10,
            date_start=date(2026, 1, 1),
            date_deadline=date(2026, 6, 30),
        )
        with self.assertRaises(UserError) as caught:
            goal.action_start()
        self.assertIn("enter the baseline by hand", str(caught.exception))

    def test_dates_in_order(self):
        with self.assertRaises(ValidationError):
            self.goal(date_start=date(2026, 5, 1), date_deadline=date(2026, 4, 1))

    def test_nightly_transitions(self):
        # win rate: baseline Feb 1/2 = 50 %, target 60 %, March and April
        goal = self.goal(
            kpi_id=self.kpi["close_rate"].id,
            target_mode="absolute",
            target_value=60,
            baseline_months=1,
            date_start=date(2026, 3, 1),
            date_deadline=date(2026, 4, 30),
        )
        with freeze_time("2026-03-05"):
            goal.action_start()
        # progress 0 after 4 of 60 days (6.7 %): within the 10 points
        self.assertEqual((goal.baseline_value, goal.status), (50, "on_track"))
        self.env["crm.kpi.goal"]._cron_update_goals(today=date(2026, 4, 15))
        # still 50 % (1/2 in March, nothing in April) after 75 % of the time
        self.assertEqual(goal.status, "off_track")
        self.assertAlmostEqual(goal.expected_progress, 75)
        activity = goal.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.planner)
        self.assertIn("Off track", goal.message_ids[0].body)
        self.assertEqual(goal.checkpoint_ids.mapped("date"), [date(2026, 4, 15)])
        # the next night: no new warning while the status stays
        self.env["crm.kpi.goal"]._cron_update_goals(today=date(2026, 4, 16))
        self.assertEqual(len(goal.activity_ids), 1)
        self.assertEqual(len(goal.checkpoint_ids), 2)
        # after the deadline: 50 % < 60 % -> missed
        self.env["crm.kpi.goal"]._cron_update_goals(today=date(2026, 5, 1))
        self.assertEqual(goal.state, "missed")

    def test_achieved(self):
        goal = self.goal(
            kpi_id=self.kpi["won_count"].id,
            target_mode="absolute",
            target_value=1,
            baseline_value=0.5,
            has_baseline=True,
            date_start=date(2026, 1, 1),
            date_deadline=date(2026, 3, 31),
        )
        with freeze_time("2026-02-01"):
            goal.action_start()
        self.env["crm.kpi.goal"]._cron_update_goals(today=date(2026, 4, 1))
        # (2 + 1 + 1) / 3 months = 1.33 deals a month >= 1
        self.assertAlmostEqual(goal.current_value, 1.33, places=2)
        self.assertEqual(goal.state, "achieved")

    def test_duplicate_for_next_period(self):
        goal = self.goal(
            kpi_id=self.kpi["sales_cycle_days"].id,
            objective_id=self.cycle.id,
            target_mode="absolute",
            target_value=20,
            baseline_months=2,
            date_start=date(2026, 3, 1),
            date_deadline=date(2026, 5, 31),
        )
        with freeze_time("2026-04-15"):
            goal.action_start()
        action = goal.action_duplicate_next_period()
        new = self.env["crm.kpi.goal"].browse(action["res_id"])
        self.assertEqual(
            (new.date_start, new.date_deadline), (date(2026, 6, 1), date(2026, 8, 31))
        )
        self.assertEqual(new.state, "draft")
        self.assertFalse(new.has_baseline)
        self.assertEqual(new.description, goal.description)
        self.assertEqual(new.target_value, 20)

    def test_analysis_is_filtered_to_the_scope(self):
        goal = self.goal(
            kpi_id=self.kpi["won_revenue"].id,
            team_id=self.team1.id,
            target_mode="absolute",
            target_value=5000,
            date_start=date(2026, 2, 1),
            date_deadline=date(2026, 7, 31),
        )
        facts = self.env["crm.kpi.value"].search(goal.action_open_analysis()["domain"])
        self.assertTrue(facts)
        self.assertEqual(facts.team_id, self.team1)
        self.assertEqual(facts.kpi_id, self.kpi["won_revenue"])

    def test_users_manage_only_their_goals(self):
        mine = self.goal(
            kpi_id=self.kpi["won_count"].id, user_id=self.user1.id
        ).with_user(self.user1)
        team_goal = self.goal(kpi_id=self.kpi["won_count"].id, team_id=self.team1.id)
        colleagues = self.goal(kpi_id=self.kpi["won_count"].id, user_id=self.user2.id)
        mine.name = "Mine"
        # his team's goal is readable, not writable
        self.assertEqual(team_goal.with_user(self.user1).name, "Goal")
        with self.assertRaises(AccessError):
            team_goal.with_user(self.user1).name = "Not mine"
        # a colleague's goal of another team is neither
        with self.assertRaises(AccessError):
            colleagues.with_user(self.user1).read(["name"])
