from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import float_round


class CrmKpiCost(models.Model):
    _name = "crm.kpi.cost"
    _description = "KPI Cost or Traffic Entry"
    _order = "date desc, id desc"
    _check_company_auto = True

    date = fields.Date(required=True, default=fields.Date.context_today, index=True)
    category = fields.Selection(
        selection=[
            ("marketing", "Marketing cost"),
            ("sales", "Sales cost"),
            ("retention", "Retention cost"),
            ("visitors", "Website visitors"),
        ],
        required=True,
        default="marketing",
    )
    amount = fields.Float(
        required=True,
        help="Money in the company currency; for website visitors, the number of "
        "visits. An amount entered or imported in another currency is converted "
        "at the rate of the entry's date.",
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        default=lambda self: self.env.company,
        index=True,
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        help="Always the company currency once saved: an entry in another "
        "currency is converted, and keeps its original amount and currency.",
    )
    original_amount = fields.Float(string="Entered Amount", readonly=True, copy=False)
    original_currency_id = fields.Many2one(
        comodel_name="res.currency",
        string="Entered Currency",
        readonly=True,
        copy=False,
    )
    campaign_id = fields.Many2one(comodel_name="utm.campaign")
    team_id = fields.Many2one(comodel_name="crm.team", check_company=True)
    note = fields.Char()

    @api.constrains("amount", "category")
    def _check_amount(self):
        for cost in self:
            if cost.amount < 0:
                raise ValidationError(
                    self.env._(
                        "A cost or visitor count cannot be negative (%(amount)s on "
                        "%(date)s). Enter a positive amount.",
                        amount=cost.amount,
                        date=cost.date,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        costs = super().create(vals_list)
        costs._convert_to_company_currency()
        costs._kpi_mark_dirty()
        return costs

    def write(self, vals):
        self._kpi_mark_dirty()
        res = super().write(vals)
        if {"currency_id", "amount", "date", "company_id"} & set(
            vals
        ) and not self.env.context.get("kpi_cost_converted"):
            self._convert_to_company_currency()
        self._kpi_mark_dirty()
        return res

    def _convert_to_company_currency(self):
        """Entries in another currency are converted to the company currency
        at the rate of their date (the rate known on that day); without such
        a rate, or for visitor counts, they are refused."""
        for cost in self:
            company_currency = cost.company_id.currency_id
            currency = cost.currency_id
            if not currency:
                cost.with_context(kpi_cost_converted=True).write(
                    {"currency_id": company_currency.id}
                )
            if not currency or currency == company_currency:
                if cost.original_currency_id and not self.env.context.get(
                    "kpi_cost_converted"
                ):
                    # changed by hand in the company currency since
                    cost.with_context(kpi_cost_converted=True).write(
                        {"original_amount": 0.0, "original_currency_id": False}
                    )
                continue
            if cost.category == "visitors":
                raise ValidationError(
                    self.env._(
                        "Website visitors are counted, not paid: the entry of "
                        "%(date)s cannot be in %(currency)s.",
                        date=cost.date,
                        currency=currency.name,
                    )
                )
            known = self.env["res.currency.rate"].search_count(
                [
                    ("currency_id", "=", currency.id),
                    ("name", "<=", cost.date),
                    ("company_id", "in", [cost.company_id.id, False]),
                ]
            )
            if not known:
                raise ValidationError(
                    self.env._(
                        "No exchange rate of %(currency)s is known on or before "
                        "%(date)s: enter the rate under Accounting or Settings > "
                        "Currencies, or enter the cost in %(company_currency)s.",
                        currency=currency.name,
                        date=cost.date,
                        company_currency=company_currency.name,
                    )
                )
            amount = currency._convert(
                cost.amount, company_currency, cost.company_id, cost.date
            )
            cost.with_context(kpi_cost_converted=True).write(
                {
                    "original_amount": cost.amount,
                    "original_currency_id": currency.id,
                    "amount": float_round(
                        amount, precision_rounding=company_currency.rounding
                    ),
                    "currency_id": company_currency.id,
                }
            )

    def unlink(self):
        self._kpi_mark_dirty()
        return super().unlink()

    def _kpi_mark_dirty(self):
        self.env["crm.kpi.changed.day"]._mark(
            [(cost.company_id.id, cost.date) for cost in self if cost.date]
        )
