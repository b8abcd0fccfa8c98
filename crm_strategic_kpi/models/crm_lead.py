from odoo import api, fields, models
from odoo.tools import SQL, create_index

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


# Up to this many customers are refreshed on the spot when their deals change.
SINGLE_REFRESH_LIMIT = 50


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

    # Where the customer stands (shown on the deal)
    kpi_lifecycle_stage = fields.Selection(
        related="partner_id.commercial_partner_id.lifecycle_stage",
        string="Lifecycle Stage",
    )
    kpi_nps_score = fields.Integer(
        related="partner_id.commercial_partner_id.nps_score", string="Latest NPS"
    )
    kpi_nps_category = fields.Selection(
        related="partner_id.commercial_partner_id.nps_category",
        string="NPS Category",
    )
    kpi_nps_date = fields.Date(
        related="partner_id.commercial_partner_id.nps_date", string="Latest NPS Date"
    )

    def init(self):
        res = super().init()
        # The done activities of deals (messages that carry an activity type)
        # in an index of their own: the KPI engine counts them per deal from
        # it alone (an index-only scan), without reading the messages.
        create_index(
            self.env.cr,
            "crm_kpi_mail_message_done_activity_index",
            "mail_message",
            ["res_id"],
            where="model = 'crm.lead' AND mail_activity_type_id IS NOT NULL",
        )
        return res

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        leads._kpi_mark_dirty()
        leads._kpi_refresh_customers()
        return leads

    def write(self, vals):
        relevant = not KPI_LEAD_FIELDS.isdisjoint(vals)
        if relevant:
            self._kpi_mark_dirty()
            partners_before = self.partner_id
        res = super().write(vals)
        if relevant:
            self._kpi_mark_dirty()
            self._kpi_refresh_customers(partners_before)
        return res

    def unlink(self):
        self._kpi_mark_dirty()
        return super().unlink()

    def _kpi_refresh_customers(self, other_partners=None):
        """Keep the lifecycle of the customers of a few edited deals current;
        mass changes are picked up by the nightly run."""
        partners = self.partner_id | (other_partners or self.env["res.partner"])
        if partners and len(partners) <= SINGLE_REFRESH_LIMIT:
            partners._kpi_refresh_customers()

    def _kpi_mark_dirty(self):
        if not self.ids:
            return
        self.flush_model()
        # the company of a deal without one is its team's
        self.env["crm.team"].flush_model(["company_id"])
        main_company = self.env.ref("base.main_company").id
        self.env["crm.kpi.changed.day"]._mark_query(
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
