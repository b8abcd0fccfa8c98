from odoo import api, fields, models
from odoo.exceptions import ValidationError

SCORE_RANGES = {"nps": (0, 10), "ces": (1, 7)}


class CrmKpiFeedback(models.Model):
    _name = "crm.kpi.feedback"
    _description = "Customer Feedback (NPS / CES)"
    _order = "date desc, id desc"
    _check_company_auto = True

    # What was said
    kind = fields.Selection(
        selection=[("nps", "Net Promoter Score"), ("ces", "Customer Effort Score")],
        required=True,
        default="nps",
    )
    score = fields.Integer(
        required=True,
        aggregator="avg",
        help="NPS: 0 (not at all likely to recommend) to 10; CES: 1 (very low "
        "effort) to 7.",
    )
    category = fields.Selection(
        selection=[
            ("promoter", "Promoter"),
            ("passive", "Passive"),
            ("detractor", "Detractor"),
        ],
        compute="_compute_category",
        store=True,
    )
    comment = fields.Text()
    date = fields.Date(required=True, default=fields.Date.context_today, index=True)
    # Who said it
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        index=True,
        ondelete="set null",
        help="Empty once the feedback is anonymised: its score still counts.",
    )
    is_anonymised = fields.Boolean(
        string="Anonymised",
        readonly=True,
        copy=False,
        help="The customer, the comment and the origin were erased; the score "
        "still counts in the KPIs.",
    )
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id", store=True, index=True
    )
    # Where it came from
    origin = fields.Selection(
        selection=[
            ("lead", "Deal"),
            ("ticket", "Ticket"),
            ("survey", "Survey"),
            ("manual", "Manual"),
            ("import", "Import"),
        ],
        required=True,
        default=lambda self: (
            "import" if self.env.context.get("import_file") else "manual"
        ),
    )
    res_model = fields.Char(string="Origin Model", readonly=True)
    res_id = fields.Many2oneReference(
        string="Origin Record", model_field="res_model", readonly=True
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        default=lambda self: self.env.company,
        index=True,
    )
    user_id = fields.Many2one(comodel_name="res.users", string="Salesperson")
    team_id = fields.Many2one(comodel_name="crm.team", check_company=True)

    @api.depends("kind", "score")
    def _compute_category(self):
        for feedback in self:
            if feedback.kind != "nps":
                feedback.category = False
            elif feedback.score >= 9:
                feedback.category = "promoter"
            elif feedback.score >= 7:
                feedback.category = "passive"
            else:
                feedback.category = "detractor"

    @api.constrains("kind", "score")
    def _check_score(self):
        for feedback in self:
            low, high = SCORE_RANGES[feedback.kind]
            if not low <= feedback.score <= high:
                raise ValidationError(
                    self.env._(
                        "A %(kind)s score must lie between %(low)s and %(high)s; "
                        "%(score)s was given.",
                        kind=feedback.kind.upper(),
                        low=low,
                        high=high,
                        score=feedback.score,
                    )
                )

    @api.constrains("partner_id", "is_anonymised")
    def _check_partner(self):
        for feedback in self:
            if not feedback.partner_id and not feedback.is_anonymised:
                raise ValidationError(
                    self.env._(
                        "Name the customer who gave the %(kind)s score of "
                        "%(score)s on %(date)s.",
                        kind=feedback.kind.upper(),
                        score=feedback.score,
                        date=feedback.date,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._kpi_mark_dirty()
        if not self.env.context.get("import_file"):
            # an import refreshes its customers once, in load()
            records._kpi_refresh_customers()
        return records

    def load(self, fields, data):
        """Import: a bad row is reported with its row number and nothing is
        imported; the customers of a good file are refreshed once, after all
        its rows were created (not row by row)."""
        result = super(CrmKpiFeedback, self.with_context(import_file=True)).load(
            fields, data
        )
        partners = self.browse(result.get("ids") or []).partner_id
        if partners:
            partners.sudo()._kpi_refresh_customers()
        return result

    def _kpi_anonymise(self):
        """Erase who gave these answers and what they wrote; their scores
        keep counting. The requests that led to them (and link them to the
        customer) go."""
        self.env["crm.kpi.feedback.request"].sudo().search(
            [("feedback_id", "in", self.ids)]
        ).unlink()
        self.sudo().write(
            {
                "partner_id": False,
                "comment": False,
                "res_model": False,
                "res_id": False,
                "is_anonymised": True,
            }
        )

    def write(self, vals):
        self._kpi_mark_dirty()
        partners = self.partner_id
        res = super().write(vals)
        self._kpi_mark_dirty()
        self._kpi_refresh_customers(partners)
        return res

    def unlink(self):
        self._kpi_mark_dirty()
        partners = self.partner_id
        res = super().unlink()
        self.browse()._kpi_refresh_customers(partners)
        return res

    def _kpi_refresh_customers(self, other_partners=None):
        """The latest NPS (and with it the lifecycle) of a few customers is
        kept current at once; larger batches are picked up by the nightly
        run."""
        partners = self.partner_id | (other_partners or self.env["res.partner"])
        if partners and len(partners) <= 50:
            partners.sudo()._kpi_refresh_customers()

    def _kpi_mark_dirty(self):
        self.env["crm.kpi.changed.day"]._mark(
            [(fb.company_id.id, fb.date) for fb in self]
        )
