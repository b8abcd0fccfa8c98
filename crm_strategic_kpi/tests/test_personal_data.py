from datetime import date

from odoo.tests import tagged

from .common import KpiCommon


@tagged("post_install", "-at_install")
class TestRetention(KpiCommon):
    """Personal data past the retention period (24 months by default) are
    anonymised by the nightly run; the KPIs keep their values."""

    def test_comments_and_logins_are_anonymised_figures_kept(self):
        Feedback = self.env["crm.kpi.feedback"]
        old = Feedback.search([("date", "=", date(2026, 1, 10))])
        recent = Feedback.search([("date", "=", date(2026, 3, 15))])
        (old | recent).write({"comment": "Herr Maier war sehr freundlich"})
        self.recompute(kpi_codes=["logins_per_user"], date_to=date(2026, 1, 1))
        # logins of January 2026: u1 3 + 2, u2 1 -> 6 logins of 2 users
        self.assertEqual(
            self.month_value("logins_per_user", date(2026, 1, 1)), (6, 2, 3)
        )

        # on 2028-03-15 the 24 months reach back to 2026-03-15: comments
        # before then are erased; logins of whole months before March 2026
        comments, logins = self.env["crm.kpi.privacy"]._apply_retention(
            date(2028, 3, 15)
        )
        self.assertEqual((comments, logins), (1, 3))
        self.assertFalse(old.comment)
        self.assertEqual(recent.comment, "Herr Maier war sehr freundlich")
        self.assertEqual(old.score, 10)
        rows = self.env["crm.kpi.user.login"].search([])
        self.assertEqual(
            [(r.user_id.id, r.day, r.count, r.user_count) for r in rows],
            [(False, date(2026, 1, 1), 6, 2)],
        )
        queued = self.env["crm.kpi.changed.day"].search(
            [("day", "=", date(2026, 1, 15))]
        )
        self.assertEqual(queued.company_id, self.company)
        # the month's figure is the same, without the user dimension
        self.recompute(kpi_codes=["logins_per_user"], date_to=date(2026, 1, 1))
        self.assertEqual(
            self.month_value("logins_per_user", date(2026, 1, 1)), (6, 2, 3)
        )
        facts = self.facts("logins_per_user")
        self.assertFalse(facts.user_id)
        # a second pass finds nothing more
        self.assertEqual(
            self.env["crm.kpi.privacy"]._apply_retention(date(2028, 3, 15)), (0, 0)
        )
