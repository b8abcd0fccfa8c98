from odoo import api, fields, models
from odoo.tools import SQL

# Fields of crm.lead the KPI engine reads: writing one of them queues the
# lead's months for the next incremental recompute.
KPI_LEAD_FIELDS = {
    "active",
    "campaign_id",
    "company_id",
    "date_closed",
    "date_conversion",
    "expected_revenue",
    "kpi_deal_type",
    "kpi_referrer_id",
    "medium_id",
    "partner_id",
    "probability",
    "source_id",
    "stage_id",
    "team_id",
    "type",
    "user_id",
    "won_status",
}


class CrmLead(models.Model):
    _inherit = "crm.lead"

    kpi_deal_type = fields.Selection(
        selection=[
            ("new", "New business"),
            ("renewal", "Renewal"),
            ("upsell", "Upsell"),
            ("cross_sell", "Cross-sell"),
        ],
        string="Deal Type",
        tracking=True,
        help="Leave empty to let the KPIs derive it: new business when the "
        "customer had no won deal before, else upsell.",
    )
    kpi_referrer_id = fields.Many2one(
        comodel_name="res.partner",
        string="Referred By (Partner)",
        help="The customer or partner who recommended this lead; it then counts "
        "as a referral.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        leads._kpi_mark_dirty()
        return leads

    def write(self, vals):
        relevant = not KPI_LEAD_FIELDS.isdisjoint(vals)
        if relevant:
            self._kpi_mark_dirty()
        res = super().write(vals)
        if relevant:
            self._kpi_mark_dirty()
        return res

    def unlink(self):
        self._kpi_mark_dirty()
        return super().unlink()

    def _kpi_mark_dirty(self):
        if not self.ids:
            return
        self.flush_model()
        main_company = self.env.ref("base.main_company").id
        self.env["crm.kpi.dirty.month"]._mark_query(
            SQL(
                """
                SELECT COALESCE(l.company_id, t.company_id, %(main)s) AS company_id,
                       d.day
                  FROM crm_lead l
                  LEFT JOIN crm_team t ON t.id = l.team_id
                 CROSS JOIN LATERAL (VALUES (l.create_date), (l.date_closed)) d(day)
                 WHERE l.id IN %(ids)s
                """,
                main=main_company,
                ids=tuple(self.ids),
            )
        )
