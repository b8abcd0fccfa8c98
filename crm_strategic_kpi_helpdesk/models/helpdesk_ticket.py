from odoo import api, fields, models
from odoo.tools import SQL

KPI_TICKET_FIELDS = {
    "stage_id",
    "partner_id",
    "user_id",
    "company_id",
    "kpi_first_resolved_at",
}


class HelpdeskTicket(models.Model):
    _inherit = "helpdesk.ticket"

    # Resolution
    kpi_first_resolved_at = fields.Datetime(
        string="First Resolved",
        readonly=True,
        copy=False,
        index=True,
        help="The ticket's first move into a closed stage.",
    )
    kpi_last_resolved_at = fields.Datetime(
        string="Last Resolved",
        readonly=True,
        copy=False,
        help="The latest move into a closed stage; empty while reopened.",
    )
    kpi_reopen_count = fields.Integer(
        string="Reopened",
        readonly=True,
        copy=False,
        help="Moves from a closed stage back to an open one.",
    )
    kpi_resolution_hours = fields.Float(
        string="Resolution Time (h)",
        readonly=True,
        copy=False,
        aggregator="avg",
        digits=(16, 2),
        help="Calendar hours from creation to first resolution.",
    )
    kpi_resolution_business_hours = fields.Float(
        string="Resolution Time (business h)",
        readonly=True,
        copy=False,
        aggregator="avg",
        digits=(16, 2),
        help="Working hours from creation to first resolution, in the team's "
        "working calendar, else the company's.",
    )
    # Feedback
    kpi_ces_score = fields.Integer(string="Latest CES", compute="_compute_kpi_feedback")
    kpi_nps_score = fields.Integer(string="Latest NPS", compute="_compute_kpi_feedback")
    kpi_has_ces = fields.Boolean(compute="_compute_kpi_feedback")
    kpi_has_nps = fields.Boolean(compute="_compute_kpi_feedback")

    def _compute_kpi_feedback(self):
        latest = {}
        feedback = (
            self.env["crm.kpi.feedback"]
            .sudo()
            .search(
                [("res_model", "=", self._name), ("res_id", "in", self.ids)],
                order="date, id",
            )
        )
        for fb in feedback:
            latest[fb.res_id, fb.kind] = fb.score
        for ticket in self:
            ces = latest.get((ticket.id, "ces"))
            nps = latest.get((ticket.id, "nps"))
            ticket.kpi_has_ces = ces is not None
            ticket.kpi_has_nps = nps is not None
            ticket.kpi_ces_score = ces or 0
            ticket.kpi_nps_score = nps or 0

    @api.model_create_multi
    def create(self, vals_list):
        tickets = super().create(vals_list)
        # created directly in a closed stage: resolved at creation
        closed = tickets.filtered(lambda t: t.stage_id.closed)
        for ticket in closed:
            ticket.write(
                {
                    "kpi_first_resolved_at": ticket.create_date,
                    "kpi_last_resolved_at": ticket.create_date,
                }
            )
        closed._kpi_set_resolution_hours()
        tickets._kpi_mark_dirty()
        return tickets

    def write(self, vals):
        closing = reopening = self.browse()
        if vals.get("stage_id"):
            stage = self.env["helpdesk.ticket.stage"].browse(vals["stage_id"])
            if stage.closed:
                closing = self.filtered(lambda t: not t.stage_id.closed)
            else:
                reopening = self.filtered(lambda t: t.stage_id.closed)
        relevant = not KPI_TICKET_FIELDS.isdisjoint(vals)
        if relevant:
            self._kpi_mark_dirty()
        res = super().write(vals)
        if closing:
            now = fields.Datetime.now()
            closing.filtered(lambda t: not t.kpi_first_resolved_at).write(
                {"kpi_first_resolved_at": now}
            )
            closing.write({"kpi_last_resolved_at": now})
            closing._kpi_set_resolution_hours()
        for ticket in reopening:
            ticket.write(
                {
                    "kpi_reopen_count": ticket.kpi_reopen_count + 1,
                    "kpi_last_resolved_at": False,
                }
            )
        if relevant or closing or reopening:
            self._kpi_mark_dirty()
        return res

    def unlink(self):
        self._kpi_mark_dirty()
        return super().unlink()

    # ------------------------------------------------------------ figures
    def _kpi_set_resolution_hours(self):
        """Calendar and business hours from creation to first resolution.

        Business hours need the working calendar, which only Python knows
        how to walk (attendances, leaves, timezones): tickets are resolved one
        by one, and the backfill goes through them in batches.
        """
        for ticket in self:
            if not ticket.kpi_first_resolved_at:
                ticket.write(
                    {"kpi_resolution_hours": 0.0, "kpi_resolution_business_hours": 0.0}
                )
                continue
            start, end = ticket.create_date, ticket.kpi_first_resolved_at
            hours = max((end - start).total_seconds() / 3600.0, 0.0)
            calendar = (
                ticket.team_id.resource_calendar_id
                or ticket.company_id.resource_calendar_id
            )
            business = (
                calendar.get_work_hours_count(start, end, compute_leaves=True)
                if calendar and end > start
                else 0.0
            )
            ticket.write(
                {
                    "kpi_resolution_hours": hours,
                    "kpi_resolution_business_hours": business,
                }
            )

    def _kpi_backfill_resolution(self):
        """Fill the resolution figures of existing tickets from the tracking of
        their stage (every move into and out of a closed stage), else from
        their closing date; set-based, then the hours per ticket."""
        if not self:
            return
        self.flush_model()
        stage_field = self.env["ir.model.fields"]._get("helpdesk.ticket", "stage_id")
        self.env.cr.execute(
            SQL(
                """
                WITH moves AS (
                    SELECT m.res_id AS ticket_id, m.date,
                           COALESCE(os.closed, FALSE) AS from_closed,
                           COALESCE(ns.closed, FALSE) AS to_closed
                      FROM mail_tracking_value v
                      JOIN mail_message m ON m.id = v.mail_message_id
                      LEFT JOIN helpdesk_ticket_stage os
                        ON os.id = v.old_value_integer
                      LEFT JOIN helpdesk_ticket_stage ns
                        ON ns.id = v.new_value_integer
                     WHERE v.field_id = %(field)s AND m.model = 'helpdesk.ticket'
                       AND m.res_id IN %(ids)s
                ), tracked AS (
                    SELECT ticket_id,
                           MIN(date) FILTER (WHERE to_closed AND NOT from_closed)
                               AS first_closed,
                           MAX(date) FILTER (WHERE to_closed AND NOT from_closed)
                               AS last_closed,
                           COUNT(*) FILTER (WHERE from_closed AND NOT to_closed)
                               AS reopened
                      FROM moves GROUP BY ticket_id
                )
                UPDATE helpdesk_ticket t
                   SET kpi_first_resolved_at = CASE
                         WHEN tr.first_closed IS NOT NULL THEN tr.first_closed
                         WHEN s.closed THEN COALESCE(t.closed_date, t.create_date)
                       END,
                       kpi_last_resolved_at = CASE
                         WHEN NOT s.closed THEN NULL
                         WHEN tr.last_closed IS NOT NULL THEN tr.last_closed
                         ELSE COALESCE(t.closed_date, t.create_date)
                       END,
                       kpi_reopen_count = COALESCE(tr.reopened, 0)
                  FROM helpdesk_ticket_stage s, helpdesk_ticket t2
                  LEFT JOIN tracked tr ON tr.ticket_id = t2.id
                 WHERE t.id = t2.id AND s.id = t.stage_id AND t.id IN %(ids)s
                """,
                field=stage_field.id,
                ids=tuple(self.ids),
            )
        )
        self.invalidate_recordset(
            ["kpi_first_resolved_at", "kpi_last_resolved_at", "kpi_reopen_count"]
        )
        for start in range(0, len(self), 500):
            batch = self[start : start + 500]
            batch._kpi_set_resolution_hours()
            batch.flush_recordset()
        self._kpi_mark_dirty()

    def _kpi_mark_dirty(self):
        if not self.ids:
            return
        self.flush_model()
        self.env["crm.kpi.dirty.month"]._mark_query(
            SQL(
                """
                SELECT t.company_id, d.day
                  FROM helpdesk_ticket t
                 CROSS JOIN LATERAL (VALUES (t.create_date),
                                            (t.kpi_first_resolved_at)) d(day)
                 WHERE t.id IN %s
                """,
                tuple(self.ids),
            )
        )
