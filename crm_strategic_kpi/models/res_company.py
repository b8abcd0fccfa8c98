from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = "res.company"

    kpi_churn_days = fields.Integer(
        string="Churn After (Days)",
        default=365,
        help="A customer whose latest won deal is older than this is no longer "
        "active (churned).",
    )
    kpi_clv_margin = fields.Float(
        string="CLV Margin (%)",
        default=100.0,
        help="Share of revenue counted as value in the customer lifetime value.",
    )
    kpi_revenue_source = fields.Selection(
        selection=[("expected_revenue", "Expected revenue of won deals")],
        string="KPI Revenue Source",
        default="expected_revenue",
        required=True,
    )

    @api.constrains("kpi_churn_days")
    def _check_kpi_churn_days(self):
        for company in self:
            if company.kpi_churn_days < 31:
                raise ValidationError(
                    self.env._(
                        "The churn period of %(company)s must be at least 31 days "
                        "(one month); %(days)s days were given.",
                        company=company.name,
                        days=company.kpi_churn_days,
                    )
                )

    @api.constrains("kpi_clv_margin")
    def _check_kpi_clv_margin(self):
        for company in self:
            if not 0 < company.kpi_clv_margin <= 100:
                raise ValidationError(
                    self.env._(
                        "The CLV margin of %(company)s must lie between 0 and 100 "
                        "percent.",
                        company=company.name,
                    )
                )

    def _get_kpi_timezone(self):
        """The company's timezone: its partner's, else the first administrator's,
        else UTC."""
        self.ensure_one()
        if self.partner_id.tz:
            return self.partner_id.tz
        admin = (
            self.env["res.users"]
            .sudo()
            .search(
                [
                    ("group_ids", "in", self.env.ref("base.group_system").id),
                    ("tz", "!=", False),
                ],
                order="id",
                limit=1,
            )
        )
        return admin.tz or "UTC"
