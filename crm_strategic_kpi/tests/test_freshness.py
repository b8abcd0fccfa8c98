from datetime import date

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from ..models.crm_kpi_run import RECOMPUTE_LOCK
from .common import KpiCommon

MAR = date(2026, 3, 1)


@tagged("post_install", "-at_install")
class TestFreshness(KpiCommon):
    """How old the figures are, how often they are refreshed, and a refresh
    asked for by a KPI user."""

    def test_kpi_user_refreshes_the_figures(self):
        Queue = self.env["crm.kpi.changed.day"]
        with freeze_time("2026-04-15 10:00:00"):
            self.recompute()
        self.assertEqual(Queue._get_freshness()["computed_at"], "2026-04-15 10:00:00")
        # L5 (C, won on 5 March) grows from 3000 to 3500
        self.l5.expected_revenue = 3500
        self.assertEqual(self.month_value("won_revenue", MAR), (3000, 0, 3000))
        with freeze_time("2026-04-15 11:30:00"):
            result = Queue.with_user(self.user1).action_refresh_figures()
        self.assertEqual(result["params"]["type"], "success")
        self.env.invalidate_all()
        self.assertEqual(self.month_value("won_revenue", MAR), (3500, 0, 3500))
        self.assertEqual(Queue._get_freshness()["computed_at"], "2026-04-15 11:30:00")
        # the goal form shows the same moment
        goal = self.env["crm.kpi.goal"].create(
            {"name": "G", "kpi_id": self.env.ref("crm_strategic_kpi.kpi_won_count").id}
        )
        self.assertEqual(
            goal.figures_computed_at, fields.Datetime.to_datetime("2026-04-15 11:30:00")
        )
        # a user without the KPI group may not
        outsider = new_test_user(
            self.env, login="kpi_outsider", groups="base.group_user"
        )
        with self.assertRaises(AccessError):
            Queue.with_user(outsider).action_refresh_figures()

    def test_refresh_while_another_run_holds_the_lock(self):
        Queue = self.env["crm.kpi.changed.day"]
        with self.env.registry.cursor() as other:
            other.execute("SELECT pg_advisory_xact_lock(%s)", (RECOMPUTE_LOCK,))
            with self.assertLogs(
                "odoo.addons.crm_strategic_kpi.models.crm_kpi_changed_day", "WARNING"
            ):
                result = Queue.with_user(self.user1).action_refresh_figures()
            other.rollback()
        self.assertEqual(result["params"]["type"], "warning")

    def test_refresh_interval_setting(self):
        cron = self.env.ref("crm_strategic_kpi.ir_cron_recompute_kpis")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "hours"))
        settings = self.env["res.config.settings"].create(
            {"kpi_refresh_interval": "quarter_hour"}
        )
        settings.execute()
        self.assertEqual((cron.interval_number, cron.interval_type), (15, "minutes"))
        # nightly: 02:00 in the main company's timezone (Berlin, CET: 01:00 UTC)
        with freeze_time("2026-01-10 12:00:00"):
            self.env["res.config.settings"].create(
                {"kpi_refresh_interval": "nightly"}
            ).execute()
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))
        self.assertEqual(
            cron.nextcall, fields.Datetime.to_datetime("2026-01-11 01:00:00")
        )
