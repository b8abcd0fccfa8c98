from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    kpi_churn_days = fields.Integer(related="company_id.kpi_churn_days", readonly=False)
    kpi_clv_margin = fields.Float(related="company_id.kpi_clv_margin", readonly=False)
    kpi_revenue_source = fields.Selection(
        related="company_id.kpi_revenue_source", readonly=False
    )
