from odoo import api, models


class ResCompany(models.Model):
    _inherit = "res.company"

    @api.model
    def _kpi_feedback_cron_xmlids(self):
        return [
            *super()._kpi_feedback_cron_xmlids(),
            "crm_strategic_kpi_helpdesk.ir_cron_send_ticket_requests",
        ]
