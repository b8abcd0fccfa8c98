from odoo import fields, models


class UtmSource(models.Model):
    _inherit = "utm.source"

    kpi_is_referral = fields.Boolean(
        string="Referral Source",
        help="Leads from this source count as referrals in the strategic KPIs.",
    )
