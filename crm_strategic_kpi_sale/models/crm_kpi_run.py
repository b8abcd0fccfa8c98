from odoo import api, models

from ..sources import INVOICES, SALE_ORDERS


class CrmKpiRun(models.AbstractModel):
    _inherit = "crm.kpi.run"

    @api.model
    def _get_catalogue(self):
        catalogue = super()._get_catalogue()
        catalogue.add_revenue_source(SALE_ORDERS)
        catalogue.add_revenue_source(INVOICES)
        return catalogue
