from odoo import api, models

from ..populate import populate_tickets


class CrmKpi(models.Model):
    _inherit = "crm.kpi"

    @api.model
    def _kpi_populate_steps(self):
        return [*super()._kpi_populate_steps(), ("tickets", populate_tickets)]
