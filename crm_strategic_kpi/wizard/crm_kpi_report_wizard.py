import base64

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..engine.rules import month_start, months_between
from ..models.crm_kpi import CATEGORIES

MAX_MONTHS = 36


class CrmKpiReportWizard(models.TransientModel):
    """Export the strategic KPIs of a company as an Excel workbook: a summary,
    one sheet per category with a chart per KPI, the goals and the raw facts."""

    _name = "crm.kpi.report.wizard"
    _description = "Export KPI Report"

    def _default_date_to(self):
        """The last complete month: the running one is not over."""
        return month_start(fields.Date.context_today(self)) - relativedelta(months=1)

    def _default_date_from(self):
        return self._default_date_to() - relativedelta(months=11)

    # Period
    date_from = fields.Date(
        string="From",
        required=True,
        default=lambda self: self._default_date_from(),
        help="The report starts with the month of this day.",
    )
    date_to = fields.Date(
        string="To",
        required=True,
        default=lambda self: self._default_date_to(),
        help="The report ends with the month of this day.",
    )
    # Scope
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        default=lambda self: self.env.company,
    )
    kpi_ids = fields.Many2many(
        comodel_name="crm.kpi",
        string="KPIs",
        help="Export these KPIs and those of the ticked categories; leave both "
        "empty to export every active KPI.",
    )
    category_sales = fields.Boolean(string="Sales")
    category_customers = fields.Boolean(string="Customers")
    category_satisfaction = fields.Boolean(string="Satisfaction")
    category_marketing = fields.Boolean(string="Marketing")
    category_service = fields.Boolean(string="Service")
    category_adoption = fields.Boolean(string="Adoption")
    breakdown = fields.Selection(
        selection=[
            ("none", "None"),
            ("team", "Sales Team"),
            ("segment", "Segment"),
            ("campaign", "Campaign"),
        ],
        required=True,
        default="none",
        help="Add one row per sales team, segment or campaign under each KPI "
        "of the category sheets.",
    )
    # Result
    report_file = fields.Binary(readonly=True, attachment=False)
    report_filename = fields.Char(readonly=True)

    @api.constrains("date_from", "date_to")
    def _check_period(self):
        for wizard in self:
            if wizard.date_from > wizard.date_to:
                raise ValidationError(
                    self.env._(
                        "The report starts (%(start)s) after it ends (%(end)s): "
                        "choose a first month before the last one.",
                        start=wizard.date_from,
                        end=wizard.date_to,
                    )
                )
            months = months_between(wizard.date_from, wizard.date_to)
            if months > MAX_MONTHS:
                raise ValidationError(
                    self.env._(
                        "The report covers %(months)s months; it can cover at most "
                        "%(max)s. Choose a shorter period.",
                        months=months,
                        max=MAX_MONTHS,
                    )
                )

    # ------------------------------------------------------------ actions
    def action_export(self):
        self.ensure_one()
        self.write(
            {
                "report_file": base64.b64encode(self._generate_xlsx()),
                "report_filename": self._get_report_filename(),
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content?model={self._name}&id={self.id}"
            "&field=report_file&filename_field=report_filename&download=true",
            "close": True,
        }

    # ------------------------------------------------------------ scope
    def _get_categories(self):
        self.ensure_one()
        return [code for code, _label in CATEGORIES if self[f"category_{code}"]]

    def _get_kpis(self):
        """The chosen KPIs plus the active KPIs of the ticked categories; every
        active KPI when neither is chosen."""
        self.ensure_one()
        categories = self._get_categories()
        kpis = self.kpi_ids
        if categories:
            kpis |= self.env["crm.kpi"].search([("category", "in", categories)])
        elif not kpis:
            # the catalogue: a few dozen rows
            kpis = self.env["crm.kpi"].search([])  # pylint: disable=no-search-all
        if not kpis:
            raise UserError(
                self.env._(
                    "There is no active KPI to export: choose KPIs or categories."
                )
            )
        return kpis.sorted(lambda kpi: (kpi.sequence, kpi.id))

    def _get_months(self):
        self.ensure_one()
        first = month_start(self.date_from)
        return [
            first + relativedelta(months=i)
            for i in range(months_between(self.date_from, self.date_to))
        ]

    def _get_fact_domain(self, kpis, date_from, date_to):
        self.ensure_one()
        return [
            ("kpi_id", "in", kpis.ids),
            ("company_id", "=", self.company_id.id),
            ("date", ">=", month_start(date_from)),
            ("date", "<=", month_start(date_to)),
        ]

    def _get_report_filename(self):
        self.ensure_one()
        return "{} {} - {}.xlsx".format(
            self.env._("Strategic KPIs"),
            self.date_from.strftime("%Y-%m"),
            self.date_to.strftime("%Y-%m"),
        )

    # ------------------------------------------------------------ figures
    def _get_sums(self, kpis, date_from, date_to, dimension=None):
        """{(kpi id, month, dimension record or None): (Σnumerator, Σdenominator)}
        of the facts the user may read."""
        groupby = ["kpi_id", "date:month"] + ([dimension] if dimension else [])
        groups = self.env["crm.kpi.value"]._read_group(
            self._get_fact_domain(kpis, date_from, date_to),
            groupby,
            ["numerator:sum", "denominator:sum"],
        )
        sums = {}
        for kpi, month, *rest in groups:
            dim = rest.pop(0) if dimension else None
            num, den = rest
            sums[kpi.id, month_start(month), dim] = (num or 0.0, den or 0.0)
        return sums

    @api.model
    def _get_kpi_value(self, kpi, sums):
        """The KPI from summed facts: None for a ratio without denominator, 0
        for a count or an amount without facts."""
        num, den = sums or (0.0, 0.0)
        return kpi._value_from_sums(num, den)

    def _get_goals(self, kpis, states):
        self.ensure_one()
        return self.env["crm.kpi.goal"].search(
            [
                ("kpi_id", "in", kpis.ids),
                ("company_id", "=", self.company_id.id),
                ("state", "in", states),
            ]
        )

    # ------------------------------------------------------------ workbook
    @api.model
    def _cron_send_monthly_report(self):
        """E-mail the report of the last 12 complete months to the KPI managers,
        one report per company, sent to the managers working in it."""
        group = self.env.ref("crm_strategic_kpi.group_kpi_manager")
        managers = self.env["res.users"].search(
            [
                ("all_group_ids", "in", group.ids),
                ("share", "=", False),
                ("email", "!=", False),
            ]
        )
        date_to = month_start(fields.Date.context_today(self)) - relativedelta(months=1)
        mails = self.env["mail.mail"]
        for company, users in managers.grouped("company_id").items():
            mails |= self._send_report(company, users, date_to)
        return mails

    def _send_report(self, company, users, date_to):
        """Build the report of ``company`` for the 12 months ending with the
        month of ``date_to`` and queue it in a mail to ``users``."""
        # created as the system user, whom nobody logs in as: the record rule
        # of exports (creator only) hides it from every user
        wizard = self.with_user(SUPERUSER_ID).create(
            {
                "company_id": company.id,
                "date_from": date_to - relativedelta(months=11),
                "date_to": date_to,
            }
        )
        filename = wizard._get_report_filename()
        content = wizard._generate_xlsx()
        period = self.env._(
            "%(start)s to %(end)s",
            start=wizard.date_from.strftime("%Y-%m"),
            end=wizard.date_to.strftime("%Y-%m"),
        )
        body = Markup("<p>%s</p><p>%s</p>") % (
            self.env._(
                "Please find attached the strategic KPIs of %(company)s from "
                "%(period)s.",
                company=company.name,
                period=period,
            ),
            self.env._(
                "It holds a summary, one sheet per category with its charts, "
                "the goals and the underlying figures."
            ),
        )
        mail = (
            self.env["mail.mail"]
            .sudo()
            .create(
                {
                    "subject": self.env._(
                        "Strategic KPIs of %(company)s: %(period)s",
                        company=company.name,
                        period=period,
                    ),
                    "body_html": body,
                    "email_from": company.email_formatted
                    or self.env.user.email_formatted,
                    "recipient_ids": [(6, 0, users.partner_id.ids)],
                    # kept, with the file, as the trace of what was sent
                    "auto_delete": False,
                    "attachment_ids": [
                        (
                            0,
                            0,
                            {
                                "name": filename,
                                "raw": content,
                                "mimetype": "application/vnd.openxmlformats-"
                                "officedocument.spreadsheetml.sheet",
                            },
                        )
                    ],
                }
            )
        )
        wizard.unlink()
        return mail
