from datetime import date

from odoo import SUPERUSER_ID
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import KpiCommon


@tagged("post_install", "-at_install")
class TestAccessPaths(KpiCommon):
    """Every path to the figures, tried by a salesperson of another team
    (u2 against team T1's figures) and by a user of another company (B)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["crm.kpi.run"].recompute(
            date_from=date(2026, 1, 1), date_to=date(2026, 4, 1)
        )
        cls.user_b = cls._company_b_user("kpi_b_mgr", "sales_team.group_sale_manager")
        cls.manager = new_test_user(
            cls.env,
            login="kpi_mgr",
            groups="sales_team.group_sale_manager",
        )
        cls.won_count = cls.env.ref("crm_strategic_kpi.kpi_won_count")

    # ------------------------------------------------------------ reports
    def test_exported_reports_are_their_creators_only(self):
        Wizard = self.env["crm.kpi.report.wizard"]
        mine = Wizard.with_user(self.user1).create(
            {"date_from": date(2026, 1, 1), "date_to": date(2026, 3, 1)}
        )
        mine.action_export()
        self.assertTrue(mine.report_file)
        self.assertEqual(Wizard.with_user(self.user1).search([]), mine)
        for intruder in (self.user2, self.user_b, self.manager):
            self.assertFalse(Wizard.with_user(intruder).search([]))
            with self.assertRaises(AccessError):
                mine.with_user(intruder).read(["report_file"])
            with self.assertRaises(AccessError):
                mine.with_user(intruder).write({"date_from": date(2026, 2, 1)})
            with self.assertRaises(AccessError):
                mine.with_user(intruder).unlink()

    def test_the_monthly_job_report_is_nobodys(self):
        """The job builds its report as the system user: no user, however
        privileged, sees it while it exists."""
        job_wizard = (
            self.env["crm.kpi.report.wizard"]
            .with_user(SUPERUSER_ID)
            .create({"date_from": date(2026, 1, 1), "date_to": date(2026, 3, 1)})
        )
        admin = self.env.ref("base.user_admin")
        self.assertEqual(job_wizard.create_uid.id, SUPERUSER_ID)
        for user in (admin, self.manager, self.user1):
            self.assertFalse(
                self.env["crm.kpi.report.wizard"].with_user(user).search([])
            )
        mails = self.env["crm.kpi.report.wizard"]._cron_send_monthly_report()
        self.assertTrue(mails)
        self.assertEqual(
            self.env["crm.kpi.report.wizard"].search_count(
                [("create_uid", "=", SUPERUSER_ID), ("id", "!=", job_wizard.id)]
            ),
            0,
        )

    # ------------------------------------------------------------ goals
    def _goal(self, user, **vals):
        return (
            self.env["crm.kpi.goal"]
            .with_user(user)
            .create(
                {
                    "name": "Win more",
                    "user_id": user.id,
                    "kpi_id": self.won_count.id,
                    "date_start": date(2026, 4, 1),
                    "date_deadline": date(2026, 6, 30),
                    **vals,
                }
            )
        )

    def test_goal_on_another_team_is_refused(self):
        with self.assertRaisesRegex(ValidationError, "T2"):
            self._goal(self.user1, team_id=self.team2.id)
        # a manager cannot make u1 the owner of T2's goal either
        with self.assertRaises(ValidationError):
            self._goal(self.manager, team_id=self.team2.id).write(
                {"user_id": self.user1.id}
            )
        # nor give a goal of company A to a user of company B
        with self.assertRaises(ValidationError):
            self._goal(self.manager, team_id=self.team1.id).write(
                {"user_id": self.user_b.id}
            )
        self.assertEqual(
            self._goal(self.user1, team_id=self.team1.id).team_id.name, "T1"
        )

    def test_goal_figures_hold_what_the_owner_may_read(self):
        """Won deals January to March: L1, L3, L5 in T1, L2 in T2. A count's
        baseline is the monthly average over the three months before the
        start: u1 reads T1 only, 3 / 3 = 1.0; a manager reads all,
        4 / 3 = 1.33."""
        goal_u1 = self._goal(self.user1)
        goal_u1.action_capture_baseline()
        self.assertAlmostEqual(goal_u1.baseline_value, 1.0, places=6)
        goal_mgr = self._goal(self.manager)
        goal_mgr.action_capture_baseline()
        self.assertAlmostEqual(goal_mgr.baseline_value, 4 / 3, places=2)
        # the nightly job (superuser) keeps the owner's view
        goal_u1.sudo().write({"has_baseline": False})
        goal_u1.sudo()._capture_baseline()
        self.assertAlmostEqual(goal_u1.baseline_value, 1.0, places=6)

    def test_goals_are_read_within_the_facts_rules(self):
        goal_u1 = self._goal(self.user1)
        team_goal = self._goal(self.manager, team_id=self.team1.id)
        self.env["crm.kpi.goal.checkpoint"].create(
            {"goal_id": goal_u1.id, "date": date(2026, 4, 1), "value": 1.0}
        )
        Goal = self.env["crm.kpi.goal"]
        self.assertEqual(Goal.with_user(self.user1).search([]), goal_u1 | team_goal)
        self.assertFalse(Goal.with_user(self.user2).search([]))
        self.assertFalse(Goal.with_user(self.user_b).search([]))
        with self.assertRaises(AccessError):
            goal_u1.with_user(self.user2).read(["baseline_value"])
        Checkpoint = self.env["crm.kpi.goal.checkpoint"]
        self.assertTrue(Checkpoint.with_user(self.user1).search([]))
        self.assertFalse(Checkpoint.with_user(self.user2).search([]))
        self.assertEqual(Goal.with_user(self.manager).search([]), goal_u1 | team_goal)

    # ------------------------------------------------------------ feedback
    def test_feedback_is_written_by_managers_only(self):
        Feedback = self.env["crm.kpi.feedback"]
        fb_t1, fb_t2 = Feedback.create(
            [
                {"partner_id": self.cust_a.id, "score": 10, "team_id": self.team1.id},
                {"partner_id": self.cust_b.id, "score": 3, "team_id": self.team2.id},
            ]
        )
        self.assertEqual(Feedback.with_user(self.user1).search([]), fb_t1)
        self.assertFalse(Feedback.with_user(self.user_b).search([]))
        with self.assertRaises(AccessError):
            fb_t1.with_user(self.user1).write({"score": 0})
        with self.assertRaises(AccessError):
            Feedback.with_user(self.user1).create(
                {"partner_id": self.cust_a.id, "score": 10, "team_id": self.team1.id}
            )
        with self.assertRaises(AccessError):
            fb_t2.with_user(self.user1).read(["score"])
        fb_t1.with_user(self.manager).write({"score": 9})
        self.assertEqual(fb_t1.score, 9)

    # ------------------------------------------------------------ segments
    def test_segment_rules_stay_in_their_authors_companies(self):
        """A manager of company B writes a segment for every company with
        the rule []: it reaches B's customers, never A's."""
        self.cust_a.company_id = self.company
        cust_of_b = self.env["res.partner"].create(
            {"name": "B-Kunde", "is_company": True, "company_id": self.company_b.id}
        )
        grab = (
            self.env["crm.kpi.segment"]
            .with_user(self.user_b)
            .create({"name": "Everyone", "sequence": 0, "rule": "[]"})
        )
        self.assertEqual(grab.rule_user_id, self.user_b)
        self.env["crm.kpi.segment"]._assign_segments()
        self.assertEqual(cust_of_b.kpi_segment_id, grab)
        self.assertEqual(self.cust_a.kpi_segment_id, self.seg1)

    def test_segment_rule_on_an_unreadable_field_is_refused(self):
        Partner = self.env["res.partner"]
        if "signup_type" not in Partner._fields:
            self.skipTest("needs auth_signup's restricted field")
        kpi_manager = new_test_user(
            self.env, login="kpi_only_mgr", groups="crm_strategic_kpi.group_kpi_manager"
        )
        with self.assertRaisesRegex(ValidationError, "may not read"):
            self.env["crm.kpi.segment"].with_user(kpi_manager).create(
                {"name": "Oracle", "rule": "[('signup_type', '=', 'signup')]"}
            )

    def test_only_kpi_managers_reassign_segments(self):
        with self.assertRaises(AccessError):
            self.seg1.with_user(self.user1).action_assign_segments()
        self.seg1.with_user(self.manager).action_assign_segments()

    # ------------------------------------------------------------ drill-down
    def test_drill_down_opens_only_readable_facts(self):
        Value = self.env["crm.kpi.value"]
        t1 = Value.search(
            [("kpi_code", "=", "won_count"), ("team_id", "=", self.team1.id)], limit=1
        )
        t2 = Value.search(
            [("kpi_code", "=", "won_count"), ("team_id", "=", self.team2.id)], limit=1
        )
        action = t1.with_user(self.user1).action_open_records()
        self.assertEqual(action["res_model"], "crm.lead")
        with self.assertRaises(AccessError):
            t2.with_user(self.user1).action_open_records()
        with self.assertRaises(AccessError):
            Value.browse((t1 | t2).ids).with_user(self.user1).action_open_records()
        with self.assertRaises(AccessError):
            t1.with_user(self.user_b).action_open_records()
