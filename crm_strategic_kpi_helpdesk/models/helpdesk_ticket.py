from datetime import UTC

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
        if closed:
            closed._kpi_update(
                SQL(
                    "kpi_first_resolved_at = create_date, "
                    "kpi_last_resolved_at = create_date"
                )
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
        if reopening:
            reopening._kpi_update(
                SQL(
                    "kpi_reopen_count = COALESCE(kpi_reopen_count, 0) + 1, "
                    "kpi_last_resolved_at = NULL"
                )
            )
        if relevant or closing or reopening:
            self._kpi_mark_dirty()
        return res

    def unlink(self):
        self._kpi_mark_dirty()
        return super().unlink()

    # ------------------------------------------------------------ figures
    def _kpi_update(self, assignments):
        """One UPDATE of the resolution columns of these tickets (values that
        depend on each ticket's own columns, set-based)."""
        self.flush_recordset()
        self.env.cr.execute(
            SQL(
                "UPDATE helpdesk_ticket SET %s WHERE id IN %s",
                assignments,
                tuple(self.ids),
            )
        )
        self.invalidate_recordset(
            ["kpi_first_resolved_at", "kpi_last_resolved_at", "kpi_reopen_count"]
        )

    def _kpi_set_resolution_hours(self):
        """Calendar and business hours from creation to first resolution.

        Set-based: calendar hours in one UPDATE; business hours per working
        calendar, whose work intervals (attendances minus leaves, as
        ``resource.calendar`` computes them) over the tickets' whole span are
        stored once in a temporary table and intersected with every ticket's
        span in SQL. Flexible-hours calendars have no fixed intervals: their
        tickets are counted one by one by the calendar itself."""
        if not self:
            return
        self.flush_model()
        cr = self.env.cr
        ids = tuple(self.ids)
        cr.execute(
            SQL(
                """
                UPDATE helpdesk_ticket
                   SET kpi_resolution_hours = CASE
                         WHEN kpi_first_resolved_at IS NULL THEN 0
                         ELSE GREATEST(EXTRACT(EPOCH FROM kpi_first_resolved_at
                                                          - create_date), 0) / 3600.0
                       END,
                       kpi_resolution_business_hours = 0
                 WHERE id IN %s
                """,
                ids,
            )
        )
        self.invalidate_recordset(
            ["kpi_resolution_hours", "kpi_resolution_business_hours"]
        )
        cr.execute(
            SQL(
                """
                SELECT COALESCE(tm.resource_calendar_id, co.resource_calendar_id),
                       MIN(t.create_date), MAX(t.kpi_first_resolved_at),
                       array_agg(t.id)
                  FROM helpdesk_ticket t
                  JOIN res_company co ON co.id = t.company_id
                  LEFT JOIN helpdesk_ticket_team tm ON tm.id = t.team_id
                 WHERE t.id IN %s AND t.kpi_first_resolved_at > t.create_date
                   AND COALESCE(tm.resource_calendar_id, co.resource_calendar_id)
                       IS NOT NULL
                 GROUP BY 1
                """,
                ids,
            )
        )
        for calendar_id, start, end, ticket_ids in cr.fetchall():
            calendar = self.env["resource.calendar"].browse(calendar_id)
            if calendar.flexible_hours:
                for ticket in self.browse(ticket_ids):
                    ticket.kpi_resolution_business_hours = (
                        calendar.get_work_hours_count(
                            ticket.create_date,
                            ticket.kpi_first_resolved_at,
                            compute_leaves=True,
                        )
                    )
                continue
            intervals = calendar._work_intervals_batch(
                start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
            )[False]
            self._kpi_add_business_hours(
                ticket_ids,
                [
                    (
                        begin.astimezone(UTC).replace(tzinfo=None),
                        stop.astimezone(UTC).replace(tzinfo=None),
                    )
                    for begin, stop, _meta in intervals
                ],
            )
        self.invalidate_recordset(
            ["kpi_resolution_hours", "kpi_resolution_business_hours"]
        )

    def _kpi_add_business_hours(self, ticket_ids, intervals):
        """Business hours of ``ticket_ids``: the overlap of each ticket's span
        (creation to first resolution) with the work ``intervals`` (naive
        UTC pairs), through a GiST index on their ranges."""
        if not intervals:
            return
        cr = self.env.cr
        cr.execute("CREATE TEMP TABLE kpi_tmp_work (span tsrange) ON COMMIT DROP")
        for start in range(0, len(intervals), 5000):
            cr.execute(
                SQL(
                    "INSERT INTO kpi_tmp_work VALUES %s",
                    SQL(", ").join(
                        SQL("(tsrange(%s, %s))", begin, stop)
                        for begin, stop in intervals[start : start + 5000]
                    ),
                )
            )
        cr.execute(
            "CREATE INDEX ON kpi_tmp_work USING gist (span); ANALYZE kpi_tmp_work"
        )
        cr.execute(
            SQL(
                """
                UPDATE helpdesk_ticket t
                   SET kpi_resolution_business_hours = COALESCE((
                       SELECT SUM(EXTRACT(EPOCH FROM upper(w.span * s.span)
                                                     - lower(w.span * s.span)))
                         FROM kpi_tmp_work w
                        WHERE w.span && s.span), 0) / 3600.0
                  FROM (SELECT id, tsrange(create_date, kpi_first_resolved_at) AS span
                          FROM helpdesk_ticket WHERE id = ANY(%s)) s
                 WHERE t.id = s.id
                """,
                list(ticket_ids),
            )
        )
        cr.execute("DROP TABLE kpi_tmp_work")

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
        self._kpi_set_resolution_hours()
        self._kpi_mark_dirty()

    def _kpi_mark_dirty(self):
        if not self.ids:
            return
        self.flush_model()
        self.env["crm.kpi.changed.day"]._mark_query(
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
