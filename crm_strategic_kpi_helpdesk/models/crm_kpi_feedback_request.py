from odoo import api, fields, models
from odoo.tools import SQL


class CrmKpiFeedbackRequest(models.Model):
    _inherit = "crm.kpi.feedback.request"

    @api.model
    def _cron_send_ticket_requests(self):
        """After a ticket is resolved, ask its customer how easy it was (CES)
        and, at most once per interval, for the NPS. Tickets resolved in the
        last 30 days and still closed are considered once per kind."""
        self.env.flush_all()
        sent = self.browse()
        for kind in ("ces", "nps"):
            self.env.cr.execute(
                SQL(
                    """
                    SELECT t.id
                      FROM helpdesk_ticket t
                      JOIN helpdesk_ticket_stage s ON s.id = t.stage_id
                      JOIN res_partner p ON p.id = t.partner_id
                     WHERE s.closed AND t.kpi_first_resolved_at IS NOT NULL
                       AND t.kpi_first_resolved_at > %(since)s
                       AND COALESCE(p.email, '') <> ''
                       AND NOT EXISTS (
                           SELECT 1 FROM crm_kpi_feedback_request r
                            WHERE r.res_model = 'helpdesk.ticket'
                              AND r.res_id = t.id AND r.kind = %(kind)s)
                     ORDER BY t.kpi_first_resolved_at
                    """,
                    since=fields.Datetime.subtract(fields.Datetime.now(), days=30),
                    kind=kind,
                )
            )
            tickets = self.env["helpdesk.ticket"].browse(
                r[0] for r in self.env.cr.fetchall()
            )
            # CES about every resolved ticket; NPS at most once per interval
            sent |= self._send_requests(tickets, kind, once_per_interval=kind == "nps")
        return sent
