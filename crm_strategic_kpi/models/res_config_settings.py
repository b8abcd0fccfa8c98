from odoo import fields, models

from .crm_kpi_changed_day import DEFAULT_REFRESH, REFRESH_PARAM


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    kpi_churn_days = fields.Integer(related="company_id.kpi_churn_days", readonly=False)
    kpi_clv_margin = fields.Float(related="company_id.kpi_clv_margin", readonly=False)
    kpi_new_customer_days = fields.Integer(
        related="company_id.kpi_new_customer_days", readonly=False
    )
    kpi_at_risk_days = fields.Integer(
        related="company_id.kpi_at_risk_days", readonly=False
    )
    kpi_nps_delay_days = fields.Integer(
        related="company_id.kpi_nps_delay_days", readonly=False
    )
    kpi_nps_interval_days = fields.Integer(
        related="company_id.kpi_nps_interval_days", readonly=False
    )
    kpi_feedback_validity_days = fields.Integer(
        related="company_id.kpi_feedback_validity_days", readonly=False
    )
    kpi_goal_at_risk_gap = fields.Float(
        related="company_id.kpi_goal_at_risk_gap", readonly=False
    )
    kpi_goal_off_track_gap = fields.Float(
        related="company_id.kpi_goal_off_track_gap", readonly=False
    )
    kpi_revenue_source = fields.Selection(
        related="company_id.kpi_revenue_source", readonly=False
    )
    kpi_feedback_requests = fields.Boolean(
        related="company_id.kpi_feedback_requests", readonly=False
    )
    kpi_feedback_legal_basis = fields.Selection(
        related="company_id.kpi_feedback_legal_basis", readonly=False
    )
    kpi_data_retention_months = fields.Integer(
        related="company_id.kpi_data_retention_months", readonly=False
    )
    kpi_refresh_interval = fields.Selection(
        selection=[
            ("nightly", "Every night (02:00)"),
            ("hourly", "Every hour"),
            ("quarter_hour", "Every 15 minutes"),
        ],
        string="Refresh the Figures",
        default=DEFAULT_REFRESH,
        config_parameter=REFRESH_PARAM,
        help="How often the scheduled action brings the figures up to date "
        "(changed months and the current month). KPI users can also refresh "
        "them at any time from the overview or a goal.",
    )

    def set_values(self):
        before = self.env["ir.config_parameter"].sudo().get_param(REFRESH_PARAM)
        res = super().set_values()
        after = self.env["ir.config_parameter"].sudo().get_param(REFRESH_PARAM)
        if (after or DEFAULT_REFRESH) != (before or DEFAULT_REFRESH):
            self.env["crm.kpi.changed.day"]._apply_refresh_interval()
        return res
