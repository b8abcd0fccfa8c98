from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..engine.rules import decompose_change

DIMENSIONS = [
    ("team_id", "Sales Team"),
    ("user_id", "Salesperson"),
    ("segment_id", "Segment"),
    ("campaign_id", "Campaign"),
    ("source_id", "Source"),
    ("medium_id", "Medium"),
]
# the scope a breakdown can be limited to: its field -> the facts' field
SCOPE_FIELDS = ("company_id", "team_id", "user_id", "segment_id", "campaign_id")


class CrmKpiChangeBreakdown(models.TransientModel):
    """Why a KPI changed between two periods: the change split by the groups
    of one dimension (see ``engine.rules.decompose_change``), from the facts
    the user may read."""

    _name = "crm.kpi.change.breakdown"
    _description = "KPI Change Breakdown"

    kpi_id = fields.Many2one(comodel_name="crm.kpi", string="KPI", required=True)
    unit = fields.Selection(related="kpi_id.unit")
    is_ratio = fields.Boolean(related="kpi_id.is_ratio")
    dimension = fields.Selection(
        selection=DIMENSIONS, required=True, default="team_id", string="Broken Down By"
    )
    date_from = fields.Date(string="Period From", required=True)
    months = fields.Integer(required=True, default=1)
    previous_from = fields.Date(string="Compared From", required=True)
    previous_months = fields.Integer(string="Months Compared", required=True, default=1)
    label = fields.Char(string="Period")
    previous_label = fields.Char(string="Compared With")
    company_id = fields.Many2one(comodel_name="res.company")
    team_id = fields.Many2one(comodel_name="crm.team", string="Sales Team")
    user_id = fields.Many2one(comodel_name="res.users", string="Salesperson")
    segment_id = fields.Many2one(comodel_name="crm.kpi.segment")
    campaign_id = fields.Many2one(comodel_name="utm.campaign")
    per_month = fields.Boolean(
        help="Counts and amounts as averages per month (a goal's baseline and "
        "current period may differ in length)."
    )
    value_before = fields.Float(readonly=True, digits=(16, 2))
    value_after = fields.Float(readonly=True, digits=(16, 2))
    change = fields.Float(readonly=True, digits=(16, 2))
    has_values = fields.Boolean(readonly=True)
    line_ids = fields.One2many(
        comodel_name="crm.kpi.change.breakdown.line", inverse_name="breakdown_id"
    )

    @api.depends("kpi_id")
    def _compute_display_name(self):
        for breakdown in self:
            breakdown.display_name = self.env._(
                "Why did %(kpi)s change?", kpi=breakdown.kpi_id.name
            )

    @api.model_create_multi
    def create(self, vals_list):
        breakdowns = super().create(vals_list)
        breakdowns._compute_lines()
        return breakdowns

    def write(self, vals):
        res = super().write(vals)
        if "line_ids" not in vals and not self.env.context.get("kpi_breakdown_figures"):
            self._compute_lines()
        return res

    def _scope_domain(self):
        self.ensure_one()
        domain = [("kpi_id", "=", self.kpi_id.id)]
        for name in SCOPE_FIELDS:
            if self[name]:
                domain.append((name, "=", self[name].id))
        return domain

    def _period_domain(self, start, months):
        last = start + relativedelta(months=months - 1)
        return [("date", ">=", start), ("date", "<=", last)]

    def _sums_by_group(self, start, months):
        """{group id or False: (Σnumerator, Σdenominator)} of one period, from
        the facts the user may read."""
        groups = self.env["crm.kpi.value"]._read_group(
            self._scope_domain() + self._period_domain(start, months),
            [self.dimension],
            ["numerator:sum", "denominator:sum"],
        )
        # a count or an amount per month: periods of different lengths
        share = months if self.per_month and not self.kpi_id.is_ratio else 1
        return {
            group.id or False: ((num or 0.0) / share, den or 0.0)
            for group, num, den in groups
        }

    def _compute_lines(self):
        Line = self.env["crm.kpi.change.breakdown.line"]
        for breakdown in self:
            breakdown.line_ids.unlink()
            kpi = breakdown.kpi_id
            if breakdown.months < 1 or breakdown.previous_months < 1:
                raise UserError(self.env._("A period has at least one month."))
            before = breakdown._sums_by_group(
                breakdown.previous_from, breakdown.previous_months
            )
            after = breakdown._sums_by_group(breakdown.date_from, breakdown.months)
            value0 = kpi._value_from_sums(
                sum(n for n, _d in before.values()), sum(d for _n, d in before.values())
            )
            value1 = kpi._value_from_sums(
                sum(n for n, _d in after.values()), sum(d for _n, d in after.values())
            )
            effects = decompose_change(kpi.factor, kpi.is_ratio, before, after)
            values = {
                "value_before": value0 or 0.0,
                "value_after": value1 or 0.0,
                "has_values": effects is not None,
                "change": (value1 - value0) if effects is not None else 0.0,
            }
            breakdown.with_context(kpi_breakdown_figures=True).write(values)
            if effects is None:
                continue
            comodel = (
                self.env["crm.kpi.value"]._fields[breakdown.dimension].comodel_name
            )
            lines = []
            for group, (rate, mix) in effects.items():
                num0, den0 = before.get(group, (0.0, 0.0))
                num1, den1 = after.get(group, (0.0, 0.0))
                lines.append(
                    {
                        "breakdown_id": breakdown.id,
                        "res_model": comodel,
                        "res_id": group or 0,
                        "value_before": kpi._value_from_sums(num0, den0) or 0.0,
                        "value_after": kpi._value_from_sums(num1, den1) or 0.0,
                        "in_before": bool(num0 or den0),
                        "in_after": bool(num1 or den1),
                        "rate_effect": rate,
                        "mix_effect": mix,
                        "contribution": rate + mix,
                    }
                )
            lines.sort(key=lambda line: -abs(line["contribution"]))
            Line.create(lines)

    @api.model
    def action_open(self, values):
        """Create a breakdown from ``values`` (the overview's or a goal's
        periods and scope) and open it."""
        breakdown = self.create(values)
        return breakdown._get_action()

    def action_update(self):
        """Break the change down anew (by the dimension chosen)."""
        return self._get_action()

    def _get_action(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Why did %(kpi)s change?", kpi=self.kpi_id.name),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
        }


class CrmKpiChangeBreakdownLine(models.TransientModel):
    """One group's part of a KPI's change: its rate effect (its own value
    moved) and its mix effect (its weight moved); both add up to the
    change."""

    _name = "crm.kpi.change.breakdown.line"
    _description = "KPI Change Breakdown Line"
    _order = "abs_contribution desc, id"

    breakdown_id = fields.Many2one(
        comodel_name="crm.kpi.change.breakdown", required=True, ondelete="cascade"
    )
    res_model = fields.Char(required=True, readonly=True)
    res_id = fields.Integer(help="The group's record; 0 for the facts without one.")
    name = fields.Char(string="Group", compute="_compute_name")
    value_before = fields.Float(string="Before", digits=(16, 2))
    value_after = fields.Float(string="After", digits=(16, 2))
    in_before = fields.Boolean()
    in_after = fields.Boolean()
    rate_effect = fields.Float(digits=(16, 2))
    mix_effect = fields.Float(digits=(16, 2))
    contribution = fields.Float(digits=(16, 2))
    abs_contribution = fields.Float(compute="_compute_abs_contribution", store=True)
    direction = fields.Selection(
        selection=[("good", "Better"), ("bad", "Worse"), ("none", "Neutral")],
        compute="_compute_direction",
        help="Whether the group's contribution moves the KPI in its better direction.",
    )

    @api.depends("contribution", "breakdown_id.kpi_id.better")
    def _compute_direction(self):
        for line in self:
            better = line.breakdown_id.kpi_id.better
            if round(line.contribution, 2) == 0 or better not in ("higher", "lower"):
                line.direction = "none"
            else:
                line.direction = (
                    "good" if (line.contribution > 0) == (better == "higher") else "bad"
                )

    @api.depends("contribution")
    def _compute_abs_contribution(self):
        for line in self:
            line.abs_contribution = abs(line.contribution)

    @api.depends("res_model", "res_id")
    def _compute_name(self):
        for line in self:
            if not line.res_id or line.res_model not in self.env:
                line.name = self.env._("(none)")
                continue
            record = self.env[line.res_model].browse(line.res_id).exists()
            line.name = record.display_name if record else self.env._("(deleted)")

    def action_open_records(self):
        """The records behind the group's figure in the later period (else
        the earlier one)."""
        self.ensure_one()
        breakdown = self.breakdown_id
        start, months = breakdown.date_from, breakdown.months
        if not self.in_after:
            start, months = breakdown.previous_from, breakdown.previous_months
        facts = self.env["crm.kpi.value"].search(
            breakdown._scope_domain()
            + breakdown._period_domain(start, months)
            + [(breakdown.dimension, "=", self.res_id or False)]
        )
        if not facts:
            raise UserError(self.env._("No figure stands behind this group."))
        return facts.action_open_records()
