from odoo import api, fields, models
from odoo.tools import SQL

KPI_PARTNER_FIELDS = {
    "kpi_segment_id",
    "user_id",
    "email",
    "phone",
    "country_id",
    "parent_id",
    "is_company",
    "company_id",
    "active",
}


class ResPartner(models.Model):
    _inherit = "res.partner"

    kpi_segment_id = fields.Many2one(
        comodel_name="crm.kpi.segment",
        string="Customer Segment",
        index=True,
        ondelete="set null",
        tracking=True,
    )

    @api.model_create_multi
    def create(self, vals_list):
        partners = super().create(vals_list)
        partners.flush_model(["create_date", "company_id"])
        self.env["crm.kpi.dirty.month"]._mark_query(partners._kpi_created_days())
        return partners

    def write(self, vals):
        relevant = not KPI_PARTNER_FIELDS.isdisjoint(vals)
        if relevant:
            self._kpi_mark_dirty()
        res = super().write(vals)
        if relevant:
            self._kpi_mark_dirty()
        return res

    def unlink(self):
        self._kpi_mark_dirty()
        self.env["crm.kpi.dirty.month"]._mark_query(self._kpi_created_days())
        return super().unlink()

    def _kpi_created_days(self):
        return SQL(
            """
            SELECT COALESCE(p.company_id, u.company_id) AS company_id,
                   p.create_date AS day
              FROM res_partner p
              LEFT JOIN res_users u ON u.id = p.create_uid
             WHERE p.id IN %s
            """,
            tuple(self.ids) or (0,),
        )

    def _kpi_mark_dirty(self):
        """Queue the days of the deals of these partners' companies: their
        segment, team and salesperson are dimensions of those deals' figures."""
        if not self.ids:
            return
        self.flush_model()
        self.env["crm.lead"].flush_model()
        main_company = self.env.ref("base.main_company").id
        self.env["crm.kpi.dirty.month"]._mark_query(
            SQL(
                """
                SELECT COALESCE(l.company_id, t.company_id, %(main)s) AS company_id,
                       d.day
                  FROM res_partner p
                  JOIN res_partner c ON c.commercial_partner_id
                                        = p.commercial_partner_id
                  JOIN crm_lead l ON l.partner_id = c.id
                  LEFT JOIN crm_team t ON t.id = l.team_id
                 CROSS JOIN LATERAL (VALUES (l.create_date), (l.date_closed)) d(day)
                 WHERE p.id IN %(ids)s
                """,
                main=main_company,
                ids=tuple(self.ids),
            )
        )
