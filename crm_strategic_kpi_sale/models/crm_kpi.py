from odoo import api, models

from ..populate import populate_sales


class CrmKpi(models.Model):
    _inherit = "crm.kpi"

    @api.model
    def _kpi_populate_steps(self):
        return [*super()._kpi_populate_steps(), ("sales", populate_sales)]
