from odoo import api, fields, models
from odoo.tools import SQL, create_index

from ..engine.lifecycle import LIFECYCLE_STAGES
from .customer_intelligence import (
    LIFECYCLE_REASONS,
    RFM_SEGMENTS,
    CustomerIntelligence,
)

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

    # Segment
    kpi_segment_id = fields.Many2one(
        comodel_name="crm.kpi.segment",
        string="Customer Segment",
        index=True,
        ondelete="set null",
        tracking=True,
    )
    kpi_segment_locked = fields.Boolean(
        string="Keep Segment",
        help="Keep the segment chosen by hand: the segment rules leave it alone.",
    )
    kpi_company_size = fields.Selection(
        selection=[
            ("micro", "1-9 employees"),
            ("small", "10-49 employees"),
            ("medium", "50-249 employees"),
            ("large", "250+ employees"),
        ],
        string="Company Size",
    )
    # Lifecycle
    lifecycle_stage = fields.Selection(
        selection=LIFECYCLE_STAGES,
        readonly=True,
        index=True,
        copy=False,
        group_expand="_expand_lifecycle_stages",
    )
    lifecycle_reason = fields.Selection(
        selection=LIFECYCLE_REASONS,
        string="Lifecycle Rule",
        compute="_compute_lifecycle_reason",
        help="The rule that put the customer in its lifecycle stage (the "
        "stage follows won deals and the latest NPS; churn risk follows the "
        "next-purchase forecast; the RFM segment ranks recency, frequency and "
        "value among the company's customers: they can disagree).",
    )
    lifecycle_event_ids = fields.One2many(
        comodel_name="crm.kpi.lifecycle.event", inverse_name="partner_id"
    )
    # RFM
    rfm_recency = fields.Integer(string="RFM Recency", readonly=True, copy=False)
    rfm_frequency = fields.Integer(string="RFM Frequency", readonly=True, copy=False)
    rfm_monetary = fields.Integer(string="RFM Monetary", readonly=True, copy=False)
    rfm_score = fields.Char(string="RFM Score", readonly=True, copy=False)
    rfm_segment = fields.Selection(
        selection=RFM_SEGMENTS, string="RFM Segment", readonly=True, copy=False
    )
    # Feedback
    nps_score = fields.Integer(string="Latest NPS", readonly=True, copy=False)
    nps_category = fields.Selection(
        selection=[
            ("promoter", "Promoter"),
            ("passive", "Passive"),
            ("detractor", "Detractor"),
        ],
        string="NPS Category",
        readonly=True,
        copy=False,
    )
    nps_date = fields.Date(string="Latest NPS Date", readonly=True, copy=False)
    kpi_feedback_count = fields.Integer(compute="_compute_kpi_feedback_count")
    kpi_feedback_consent = fields.Boolean(
        string="Agreed to Feedback Requests",
        tracking=True,
        copy=False,
        help="The customer agreed to be asked for feedback by e-mail (needed "
        "where the company asks on the basis of consent). Set for a company, "
        "it holds for its contacts.",
    )
    kpi_feedback_opt_out = fields.Boolean(
        string="No Feedback Requests",
        tracking=True,
        copy=False,
        help="Never ask this customer for feedback. Set by the opt-out link of "
        "every feedback e-mail; set for a company, it holds for its contacts.",
    )
    # Forecast
    next_purchase_date = fields.Date(readonly=True, copy=False)
    churn_risk = fields.Selection(
        selection=[("low", "Low"), ("medium", "Moderate"), ("high", "High")],
        readonly=True,
        copy=False,
    )

    def _compute_lifecycle_reason(self):
        """The reason of each customer's latest lifecycle event."""
        customers = self.commercial_partner_id
        reasons = {}
        if customers.ids:
            self.env.cr.execute(
                SQL(
                    """
                    SELECT DISTINCT ON (partner_id) partner_id, reason
                      FROM crm_kpi_lifecycle_event
                     WHERE partner_id = ANY(%s)
                     ORDER BY partner_id, date DESC, id DESC
                    """,
                    customers.ids,
                )
            )
            reasons = dict(self.env.cr.fetchall())
        for partner in self:
            partner.lifecycle_reason = reasons.get(partner.commercial_partner_id.id)

    @api.model
    def _expand_lifecycle_stages(self, stages, domain):
        """Board columns in the order of the lifecycle, not the alphabet."""
        return [key for key, _label in LIFECYCLE_STAGES]

    def _compute_kpi_feedback_count(self):
        counts = dict(
            self.env["crm.kpi.feedback"]._read_group(
                [("commercial_partner_id", "in", self.commercial_partner_id.ids)],
                ["commercial_partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.kpi_feedback_count = counts.get(partner.commercial_partner_id, 0)

    def init(self):
        res = super().init()
        # The KPI "records created" of the nightly run reads the partners
        # created in its months: a range of this index instead of every
        # partner.
        create_index(
            self.env.cr,
            "crm_kpi_res_partner_create_date_index",
            "res_partner",
            ["create_date"],
        )
        # The records behind a fact (drill-down) of a salesperson read the
        # customers he looks after.
        create_index(
            self.env.cr,
            "crm_kpi_res_partner_user_id_index",
            "res_partner",
            ["user_id"],
            where="user_id IS NOT NULL",
        )
        return res

    @api.model_create_multi
    def create(self, vals_list):
        partners = super().create(vals_list)
        partners.flush_model(["create_date", "company_id"])
        self.env["crm.kpi.changed.day"]._mark_query(partners._kpi_created_days())
        return partners

    def write(self, vals):
        relevant = not KPI_PARTNER_FIELDS.isdisjoint(vals)
        if relevant:
            self._kpi_mark_dirty()
        companies = self.env["res.company"]
        if "tz" in vals:
            # a company's timezone (its partner's) draws its months' borders
            companies = (
                self.env["res.company"]
                .sudo()
                .search([("partner_id", "in", self.ids)])
                .filtered(
                    lambda company: (
                        (company.partner_id.tz or False) != (vals["tz"] or False)
                    )
                )
            )
        res = super().write(vals)
        if relevant:
            self._kpi_mark_dirty()
        companies._kpi_queue_all_months()
        return res

    def unlink(self):
        self._kpi_mark_dirty()
        self.env["crm.kpi.changed.day"]._mark_query(self._kpi_created_days())
        # their answers stay as anonymous scores, without comment or origin
        self.env["crm.kpi.feedback"].sudo().search(
            [("partner_id", "in", self.ids)]
        )._kpi_anonymise()
        return super().unlink()

    def action_open_kpi_feedback(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_strategic_kpi.crm_kpi_feedback_action"
        )
        action["domain"] = [
            ("commercial_partner_id", "=", self.commercial_partner_id.id)
        ]
        action["context"] = {"default_partner_id": self.id}
        return action

    def action_open_lifecycle_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_strategic_kpi.crm_kpi_lifecycle_event_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {}
        return action

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
        segment and salesperson are dimensions of those deals' figures."""
        if not self.ids:
            return
        self.flush_model()
        self.env["crm.lead"].flush_model()
        main_company = self.env.ref("base.main_company").id
        self.env["crm.kpi.changed.day"]._mark_query(
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

    # ------------------------------------------------------------ intelligence
    def _kpi_refresh_customers(self, today=None):
        """Recompute latest NPS, lifecycle stage, RFM and forecast, set-based.

        On an empty recordset every commercial partner is refreshed (the
        nightly run); otherwise only these partners' companies."""
        partner_ids = self.commercial_partner_id.ids if self else None
        CustomerIntelligence(
            self.env, today or fields.Date.today(), partner_ids
        ).refresh()

    @api.model
    def _cron_refresh_customers(self):
        self.env["crm.kpi.segment"]._assign_segments()
        self.browse()._kpi_refresh_customers()

    @api.model
    def _cron_schedule_follow_ups(self):
        """Plan a follow-up activity for the salesperson of every customer
        whose next purchase is due and who has no such activity yet."""
        activity_type = self.env.ref("crm_strategic_kpi.mail_activity_type_follow_up")
        due = self.search(
            [
                ("next_purchase_date", "<=", fields.Date.today()),
                ("user_id", "!=", False),
                ("is_company", "=", True),
                (
                    "activity_ids",
                    "not any",
                    [("activity_type_id", "=", activity_type.id)],
                ),
            ]
        )
        for partner in due:
            partner.activity_schedule(
                activity_type_id=activity_type.id,
                user_id=partner.user_id.id,
                date_deadline=fields.Date.today(),
                note=self.env._(
                    "Next purchase expected on %(date)s.",
                    date=partner.next_purchase_date,
                ),
            )
        return len(due)
