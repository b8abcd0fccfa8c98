from odoo import api, fields, models

from ..engine.rules import value_from_sums

CATEGORIES = [
    ("sales", "Sales"),
    ("customers", "Customers"),
    ("satisfaction", "Satisfaction"),
    ("marketing", "Marketing"),
    ("service", "Service"),
    ("adoption", "Adoption"),
]
UNITS = [
    ("count", "Count"),
    ("percent", "Percent"),
    ("currency", "Currency"),
    ("days", "Days"),
    ("hours", "Hours"),
    ("score", "Score"),
    ("ratio", "Ratio"),
]


class CrmKpi(models.Model):
    _name = "crm.kpi"
    _description = "Strategic KPI"
    _order = "sequence, id"

    # Identification
    code = fields.Char(required=True, readonly=True, index=True)
    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True, help="The formula in words.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    color = fields.Integer()
    # Nature of the figure
    category = fields.Selection(selection=CATEGORIES, required=True)
    unit = fields.Selection(selection=UNITS, required=True)
    better = fields.Selection(
        selection=[
            ("higher", "Higher is better"),
            ("lower", "Lower is better"),
            ("none", "Neutral"),
        ],
        required=True,
        default="higher",
    )
    factor = fields.Float(
        default=1.0,
        required=True,
        help="value = factor x sum(numerator) / sum(denominator)",
    )
    is_ratio = fields.Boolean(
        help="Ratio KPIs divide the summed numerator by the summed denominator; "
        "the others are plain sums of the numerator.",
    )
    required_model = fields.Char(
        help="Technical name of the model this KPI reads; the KPI is only active "
        "when that model exists.",
    )
    favorite = fields.Boolean(help="Shown on the overview dashboard.")
    value_ids = fields.One2many(comodel_name="crm.kpi.value", inverse_name="kpi_id")

    _code_unique = models.Constraint("UNIQUE(code)", "A KPI code must be unique.")

    @api.depends("name", "unit")
    @api.depends_context("company")
    def _compute_display_name(self):
        """The name with its unit, so that pivot rows, graph legends and
        lists say what a figure is: "Win rate (%)", "Won revenue (€)"."""
        units = {
            "percent": "%",
            "currency": self.env.company.currency_id.symbol,
            "days": self.env._("days"),
            "hours": self.env._("hours"),
            "score": self.env._("score"),
            "ratio": self.env._("ratio"),
            "count": self.env._("count"),
        }
        for kpi in self:
            unit = units.get(kpi.unit)
            kpi.display_name = f"{kpi.name} ({unit})" if unit else kpi.name

    def _value_from_sums(self, numerator, denominator):
        """The KPI's value from its summed facts, as every view shows it:
        factor * sum(numerator) / sum(denominator) for a ratio (None without a
        denominator), factor * sum(numerator) for a count or an amount."""
        self.ensure_one()
        return value_from_sums(self.factor, self.is_ratio, numerator, denominator)

    @api.model
    def _sync_availability(self):
        """Deactivate the KPIs whose data source is not installed (and reactivate
        them once it is)."""
        kpis = self.with_context(active_test=False).search(
            [("required_model", "!=", False)]
        )
        for kpi in kpis:
            available = kpi.required_model in self.env
            if kpi.active != available:
                kpi.active = available

    def action_recompute_all(self):
        return self.env["crm.kpi.run"].action_recompute_all()

    def action_open_analysis(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_strategic_kpi.crm_kpi_value_action_graph"
        )
        action["domain"] = [("kpi_id", "=", self.id)]
        action["display_name"] = self.name
        action["context"] = {"search_default_groupby_date": 1}
        return action

    @api.model
    def _kpi_populate_steps(self):
        """Steps that bridge addons add to the sample-data generator
        (``odoo kpi_populate``): ``(name, function(ctx))`` pairs, run after the
        base steps and before ``finalize``."""
        return []
