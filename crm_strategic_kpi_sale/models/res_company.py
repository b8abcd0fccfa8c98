from odoo import fields, models

from ..sources import INVOICE, SALE_ORDER


class ResCompany(models.Model):
    _inherit = "res.company"

    kpi_revenue_source = fields.Selection(
        selection_add=[
            (SALE_ORDER, "Confirmed sale orders"),
            (INVOICE, "Posted customer invoices"),
        ],
        ondelete={SALE_ORDER: "set default", INVOICE: "set default"},
    )
