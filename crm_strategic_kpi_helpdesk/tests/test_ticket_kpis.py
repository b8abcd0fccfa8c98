from datetime import date, datetime

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.tests.common import KpiCommon


@tagged("post_install", "-at_install")
class TestTicketKpis(KpiCommon):
    """Three tickets of customer A (salesperson u1, team T1, segment S1) in
    January 2026, in a team working Monday to Friday 8-12 and 13-17 UTC:

    * T1 created Fri 9 Jan 15:00, closed Mon 12 Jan 10:00: 67 calendar hours,
      business hours Fri 15-17 + Mon 8-10 = 4;
    * T2 created Tue 13 Jan 09:00, closed 11:00 (2 h, 2 business h), reopened
      Wed 14 Jan 09:00, closed again 12:00;
    * T3 created directly in a closed stage on Thu 15 Jan: 0 hours.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.calendar = cls.env["resource.calendar"].create(
            {
                "name": "Support hours",
                "tz": "UTC",
                "attendance_ids": [(5, 0, 0)]
                + [
                    (
                        0,
                        0,
                        {
                            "name": f"{day} {period}",
                            "dayofweek": str(day),
                            "hour_from": start,
                            "hour_to": stop,
                            "day_period": period,
                        },
                    )
                    for day in range(5)
                    for start, stop, period in (
                        (8, 12, "morning"),
                        (13, 17, "afternoon"),
                    )
                ],
            }
        )
        cls.team = cls.env["helpdesk.ticket.team"].create(
            {
                "name": "Support",
                "resource_calendar_id": cls.calendar.id,
            }
        )
        cls.open_stage = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_new")
        cls.done_stage = cls.env.ref("helpdesk_mgmt.helpdesk_ticket_stage_done")
        cls.t1 = cls._ticket("T1", datetime(2026, 1, 9, 15))
        cls._move(cls.t1, cls.done_stage, "2026-01-12 10:00:00")
        cls.t2 = cls._ticket("T2", datetime(2026, 1, 13, 9))
        cls._move(cls.t2, cls.done_stage, "2026-01-13 11:00:00")
        cls._move(cls.t2, cls.open_stage, "2026-01-14 09:00:00")
        cls._move(cls.t2, cls.done_stage, "2026-01-14 12:00:00")
        cls.t3 = cls._ticket("T3", None, stage=cls.done_stage)
        cls._sql_dates(
            "helpdesk_ticket",
            cls.t3,
            create_date=datetime(2026, 1, 15, 10),
            kpi_first_resolved_at=datetime(2026, 1, 15, 10),
            kpi_last_resolved_at=datetime(2026, 1, 15, 10),
            closed_date=datetime(2026, 1, 15, 10),
        )

    @classmethod
    def _ticket(cls, name, created, stage=None):
        ticket = cls.env["helpdesk.ticket"].create(
            {
                "name": name,
                "description": "<p>Help</p>",
                "team_id": cls.team.id,
                "partner_id": cls.cust_a.id,
                "user_id": cls.user1.id,
                "stage_id": (stage or cls.open_stage).id,
            }
        )
        if created:
            cls._sql_dates("helpdesk_ticket", ticket, create_date=created)
        # the ticket's own transaction ends
        cls.env.flush_all()
        cls.env.cr.precommit.run()
        return ticket

    @classmethod
    def _move(cls, ticket, stage, when):
        """A stage change in its own transaction: tracking is written when a
        transaction commits (here: when its pre-commit hooks run)."""
        with freeze_time(when):
            ticket.with_context(tracking_disable=False, mail_notrack=False).write(
                {"stage_id": stage.id}
            )
            cls.env.flush_all()
            cls.env.cr.precommit.run()

    def test_resolution_times(self):
        self.assertEqual(self.t1.kpi_first_resolved_at, datetime(2026, 1, 12, 10))
        self.assertAlmostEqual(self.t1.kpi_resolution_hours, 67)
        self.assertAlmostEqual(self.t1.kpi_resolution_business_hours, 4)
        self.assertEqual(self.t1.kpi_reopen_count, 0)

    def test_reopened_ticket(self):
        self.assertEqual(self.t2.kpi_first_resolved_at, datetime(2026, 1, 13, 11))
        self.assertEqual(self.t2.kpi_last_resolved_at, datetime(2026, 1, 14, 12))
        self.assertEqual(self.t2.kpi_reopen_count, 1)
        self.assertAlmostEqual(self.t2.kpi_resolution_hours, 2)
        self.assertAlmostEqual(self.t2.kpi_resolution_business_hours, 2)

    def test_created_closed(self):
        ticket = self._ticket("closed at once", None, stage=self.done_stage)
        self.assertEqual(ticket.kpi_first_resolved_at, ticket.create_date)
        self.assertEqual(ticket.kpi_last_resolved_at, ticket.create_date)
        self.assertEqual(ticket.kpi_resolution_hours, 0)
        self.assertEqual(ticket.kpi_resolution_business_hours, 0)

    def test_company_calendar_without_team_calendar(self):
        self.team.resource_calendar_id = False
        self.company.resource_calendar_id = self.calendar
        self.t1._kpi_set_resolution_hours()
        self.assertAlmostEqual(self.t1.kpi_resolution_business_hours, 4)

    def test_backfill_from_stage_tracking(self):
        tickets = self.t1 | self.t2 | self.t3
        self.env.cr.execute(
            SQL(
                "UPDATE helpdesk_ticket SET kpi_first_resolved_at = NULL, "
                "kpi_last_resolved_at = NULL, kpi_reopen_count = 0, "
                "kpi_resolution_hours = 0, kpi_resolution_business_hours = 0 "
                "WHERE id IN %s",
                tuple(tickets.ids),
            )
        )
        tickets.invalidate_recordset()
        tickets._kpi_backfill_resolution()
        self.assertEqual(self.t1.kpi_first_resolved_at, datetime(2026, 1, 12, 10))
        self.assertAlmostEqual(self.t1.kpi_resolution_business_hours, 4)
        self.assertEqual(
            (
                self.t2.kpi_first_resolved_at,
                self.t2.kpi_last_resolved_at,
                self.t2.kpi_reopen_count,
            ),
            (datetime(2026, 1, 13, 11), datetime(2026, 1, 14, 12), 1),
        )
        # no tracking for a ticket created closed: its closing date
        self.assertEqual(self.t3.kpi_first_resolved_at, datetime(2026, 1, 15, 10))
        self.assertEqual(self.t3.kpi_reopen_count, 0)

    def test_service_kpis(self):
        self.recompute(
            kpi_codes=[
                "time_to_resolution",
                "time_to_resolution_business",
                "first_contact_resolution",
            ]
        )
        # (67 + 2 + 0) / 3 tickets; (4 + 2 + 0) / 3; 2 of 3 never reopened
        self.assertMonths("time_to_resolution", {1: (69, 3, 23)})
        self.assertMonths("time_to_resolution_business", {1: (6, 3, 2)})
        self.assertMonths("first_contact_resolution", {1: (2, 3, 66.67)})
        fact = self.facts("time_to_resolution")
        self.assertEqual(
            (fact.team_id, fact.user_id, fact.segment_id),
            (self.team1, self.user1, self.seg1),
        )

    def test_ticket_feedback_requests_and_kpis(self):
        Request = self.env["crm.kpi.feedback.request"]
        cron = self.env.ref("crm_strategic_kpi_helpdesk.ir_cron_send_ticket_requests")
        self.assertFalse(cron.active)
        with freeze_time("2026-01-16 12:00:00"):
            self.assertFalse(Request._cron_send_ticket_requests())
        # switched on in the settings, with the opt-out basis
        self.company.write(
            {
                "kpi_feedback_requests": True,
                "kpi_feedback_legal_basis": "legitimate_interest",
            }
        )
        self.assertTrue(cron.active)
        with freeze_time("2026-01-16 12:00:00"):
            sent = Request._cron_send_ticket_requests()
        # A was asked for CES about each ticket, for its NPS only once
        ces = sent.filtered(lambda r: r.kind == "ces")
        nps = sent.filtered(lambda r: r.kind == "nps")
        self.assertEqual(len(ces), 3)
        self.assertEqual(len(nps), 1)
        self.assertEqual(set(ces.mapped("res_model")), {"helpdesk.ticket"})
        self.assertFalse(ces.team_id)  # helpdesk teams are not sales teams
        ces[0]._record_score(2)
        ticket = self.env["helpdesk.ticket"].browse(ces[0].res_id)
        self.assertEqual((ticket.kpi_ces_score, ticket.kpi_has_ces), (2, True))
        feedback = ces[0].feedback_id
        self.assertEqual((feedback.origin, feedback.date), ("ticket", date.today()))
        with freeze_time("2026-01-17 12:00:00"):
            self.assertFalse(Request._cron_send_ticket_requests())


@tagged("post_install", "-at_install")
class TestChurnByTickets(KpiCommon):
    def test_churn_analysis_by_ticket_band(self):
        """March 2026: A and B are active on 1 March (last deals 10 February
        and 20 January, 60 churn days); B churns (its period ends 21 March),
        A is retained. B opened three tickets in February, A one, C (no
        customer on 1 March) two: B in "3 to 5" churned 100 %, A in "1 to 2"
        0 %; a ticket of March itself does not count."""
        team = self.env["helpdesk.ticket.team"].create({"name": "Support"})
        for partner, created in (
            (self.cust_b, datetime(2026, 2, 2, 9)),
            (self.cust_b, datetime(2026, 2, 9, 9)),
            (self.cust_b, datetime(2026, 2, 16, 9)),
            (self.cust_a, datetime(2026, 2, 20, 9)),
            (self.cust_a, datetime(2026, 3, 3, 9)),
            (self.cust_c, datetime(2026, 2, 21, 9)),
            (self.cust_c, datetime(2026, 2, 22, 9)),
        ):
            ticket = self.env["helpdesk.ticket"].create(
                {
                    "name": "Help",
                    "description": "<p>Help</p>",
                    "team_id": team.id,
                    "partner_id": partner.id,
                }
            )
            self._sql_dates("helpdesk_ticket", ticket, create_date=created)
        manager = self.env.ref("base.user_admin")
        analysis = (
            self.env["crm.kpi.churn.analysis"]
            .with_user(manager)
            .create({"month": date(2026, 3, 1), "company_id": self.company.id})
        )
        action = analysis.action_analyse()
        lines = (
            self.env[action["res_model"]].with_user(manager).search(action["domain"])
        )
        bands = {line.partner_id: (line.ticket_band, line.churn_rate) for line in lines}
        self.assertEqual(
            bands, {self.cust_a: ("1_2", 0.0), self.cust_b: ("3_5", 100.0)}
        )
        groups = (
            self.env["crm.kpi.churn.analysis.line"]
            .with_user(manager)
            ._read_group(
                [("analysis_id", "=", analysis.id)], ["ticket_band"], ["churn_rate:avg"]
            )
        )
        self.assertEqual(dict(groups), {"1_2": 0.0, "3_5": 100.0})
