from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from odoo.addons.crm_strategic_kpi.populate import populate
from odoo.addons.crm_strategic_kpi.tests.test_populate import CORE_STEPS, NOW

TINY = {"customers": 80, "leads": 1200, "teams": (1, 1, 1, 1), "pls": False}
STEPS = (*CORE_STEPS[:-1], "tickets", "finalize")


@tagged("post_install", "-at_install")
class TestPopulateTickets(TransactionCase):
    """The generator creates helpdesk teams and tickets when this addon is
    installed: realistic resolution times, weekends and reopenings, stored as
    stage tracking and turned into resolution figures by the backfill."""

    def _generate(self, method):
        ctx = populate(self.env, method=method, now=NOW, steps=STEPS, **TINY)
        self.assertIn("tickets", ctx.timings)
        self.assertTrue(ctx.counts["helpdesk.ticket"])
        return ctx

    def _figures(self, ticket_ids):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT t.id, t.create_date, t.kpi_first_resolved_at,
                       t.kpi_last_resolved_at, t.kpi_reopen_count,
                       t.kpi_resolution_hours, t.kpi_resolution_business_hours,
                       s.closed, t.closed_date, t.stage_id, t.team_id, t.user_id,
                       t.partner_id, t.name
                  FROM helpdesk_ticket t
                  JOIN helpdesk_ticket_stage s ON s.id = t.stage_id
                 WHERE t.id = ANY(%s) ORDER BY t.id
                """,
                list(ticket_ids),
            )
        )
        return self.env.cr.dictfetchall()

    def test_generated_tickets(self):
        ctx = self._generate("orm")
        Ticket = self.env["helpdesk.ticket"]
        tickets = Ticket.browse(ctx.ticket_ids)
        rows = self._figures(tickets.ids)
        self.assertGreater(len(rows), 80)
        # two teams per company, the technical one with its own calendar
        teams = ctx.ref["helpdesk_teams"]
        self.assertEqual(len(teams), 4)
        tech = [team for (_c, key), team in teams.items() if key == "tech"]
        self.assertTrue(all(team.resource_calendar_id for team in tech))
        closed = [r for r in rows if r["closed"]]
        open_ = [r for r in rows if not r["closed"]]
        self.assertTrue(closed)
        for row in closed:
            # solved: resolution from the tracked history, never before creation
            self.assertTrue(row["kpi_first_resolved_at"])
            self.assertGreaterEqual(row["kpi_first_resolved_at"], row["create_date"])
            self.assertEqual(row["kpi_last_resolved_at"], row["closed_date"])
            hours = (
                row["kpi_first_resolved_at"] - row["create_date"]
            ).total_seconds() / 3600
            self.assertAlmostEqual(row["kpi_resolution_hours"], hours, places=2)
            self.assertLessEqual(
                row["kpi_resolution_business_hours"],
                row["kpi_resolution_hours"] + 1e-6,
            )
        for row in open_:
            self.assertFalse(row["kpi_last_resolved_at"])
        reopened = [r for r in rows if r["kpi_reopen_count"]]
        self.assertTrue(reopened, "some tickets are reopened")
        created_closed = [
            r for r in closed if r["kpi_first_resolved_at"] == r["create_date"]
        ]
        self.assertTrue(created_closed, "some are solved at creation (phone)")
        weekend = [r for r in rows if r["create_date"].weekday() >= 5]
        self.assertTrue(weekend, "some tickets arrive at weekends")
        self.assertLess(len(weekend), len(rows) / 4)
        # tickets spanning a weekend have far fewer business than calendar hours
        spanning = [
            r
            for r in closed
            if r["create_date"].weekday() == 4
            and r["kpi_first_resolved_at"].weekday() == 0
        ]
        for row in spanning:
            self.assertLess(
                row["kpi_resolution_business_hours"],
                row["kpi_resolution_hours"] - 40,
            )
        # resolution times vary (priorities, long tail)
        hours = sorted(r["kpi_resolution_hours"] for r in closed)
        self.assertLess(hours[len(hours) // 4], hours[3 * len(hours) // 4])
        # the chatter holds the stage history
        messages = self.env["mail.message"].search_count(
            [("model", "=", "helpdesk.ticket"), ("res_id", "in", tickets.ids)]
        )
        self.assertGreaterEqual(messages, len(closed))
        # CES answers after solved tickets, and the service KPIs compute
        feedback = self.env["crm.kpi.feedback"].search(
            [("res_model", "=", "helpdesk.ticket"), ("res_id", "in", tickets.ids)]
        )
        self.assertTrue(feedback)
        self.assertEqual(set(feedback.mapped("kind")), {"ces"})
        summary = self.env["crm.kpi.run"].recompute(
            kpi_codes=["time_to_resolution", "first_contact_resolution"]
        )
        self.assertTrue(summary["rows"]["time_to_resolution"])
        self.assertTrue(summary["rows"]["first_contact_resolution"])

    def test_bulk_path_stores_the_same_tickets(self):
        orm = self._generate("orm")
        bulk = self._generate_again("sql")

        def comparable(rows, ctx):
            partners = {pid: pos for pos, pid in enumerate(ctx.partner_ids)}
            keep = (
                "create_date",
                "kpi_first_resolved_at",
                "kpi_last_resolved_at",
                "kpi_reopen_count",
                "kpi_resolution_hours",
                "kpi_resolution_business_hours",
                "closed_date",
                "stage_id",
                "team_id",
                "user_id",
                "name",
            )
            return [
                {**{k: row[k] for k in keep}, "partner": partners[row["partner_id"]]}
                for row in rows
            ]

        self.assertEqual(
            comparable(self._figures(orm.ticket_ids), orm),
            comparable(self._figures(bulk.ticket_ids), bulk),
        )

    def _generate_again(self, method):
        ctx = populate(
            self.env, method=method, now=NOW, steps=STEPS, force=True, **TINY
        )
        self.assertTrue(ctx.counts["helpdesk.ticket"])
        return ctx
