from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError

# Company settings every month's figures depend on: a change queues all of
# the company's months for the next nightly run.
KPI_COMPANY_SETTINGS = ("kpi_churn_days", "kpi_clv_margin", "kpi_revenue_source")
# Upper bounds of the periods (days): beyond them no date arithmetic of a run
# or of the feedback job may leave PostgreSQL's range, and no company needs them.
MAX_CHURN_DAYS = 3660
MAX_FEEDBACK_DAYS = 365
MAX_RETENTION_MONTHS = 120


class ResCompany(models.Model):
    _inherit = "res.company"

    kpi_churn_days = fields.Integer(
        string="Churn After (Days)",
        default=365,
        help="A customer whose latest won deal is older than this is no longer "
        "active (churned).",
    )
    kpi_clv_margin = fields.Float(
        string="CLV Margin (%)",
        default=100.0,
        help="Share of revenue counted as value in the customer lifetime value.",
    )
    kpi_new_customer_days = fields.Integer(
        string="New Customer For (Days)",
        default=90,
        help="A customer counts as new (or reactivated) for this many days after "
        "the first won deal (or the deal that brought them back).",
    )
    kpi_at_risk_days = fields.Integer(
        string="At Risk After (Days)",
        default=270,
        help="A customer without a won deal for this many days is at risk.",
    )
    kpi_nps_delay_days = fields.Integer(
        string="Ask for Feedback After (Days)",
        default=7,
        help="Days after a won deal before the customer is asked for the NPS.",
    )
    kpi_nps_interval_days = fields.Integer(
        string="Ask a Customer at Most Every (Days)",
        default=90,
        help="At most one feedback request per customer in this period.",
    )
    kpi_feedback_validity_days = fields.Integer(
        string="Feedback Links Valid For (Days)",
        default=30,
    )
    kpi_feedback_requests = fields.Boolean(
        string="Ask Customers for Feedback",
        help="Send NPS (and, with the helpdesk, CES) requests by e-mail. Off "
        "until a KPI manager chooses the legal basis and switches it on.",
    )
    kpi_feedback_legal_basis = fields.Selection(
        selection=[
            ("consent", "Consent: only customers who agreed"),
            (
                "legitimate_interest",
                "Legitimate interest: every customer, who can opt out",
            ),
        ],
        string="Legal Basis of Feedback Requests",
        default="consent",
        required=True,
        help="Consent: only customers marked as agreeing to feedback requests "
        "are asked. Legitimate interest: every customer with a valid e-mail is "
        "asked. In both cases blacklisted addresses and customers who opted "
        "out are never asked, and every e-mail carries an opt-out link.",
    )
    kpi_data_retention_months = fields.Integer(
        string="Keep Personal Data For (Months)",
        default=24,
        help="After this many months the nightly run erases feedback comments "
        "and turns per-user login records into anonymous company counts; "
        "scores and counts stay for the KPIs.",
    )
    kpi_goal_at_risk_gap = fields.Float(
        string="Goal At Risk Below (Points)",
        default=10.0,
        help="A goal is at risk when its progress lags the elapsed time by more "
        "than this many percentage points.",
    )
    kpi_goal_off_track_gap = fields.Float(
        string="Goal Off Track Below (Points)",
        default=25.0,
        help="A goal is off track when its progress lags the elapsed time by more "
        "than this many percentage points (and its trend misses the target).",
    )
    kpi_revenue_source = fields.Selection(
        selection=[("expected_revenue", "Expected revenue of won deals")],
        string="KPI Revenue Source",
        default="expected_revenue",
        required=True,
        help="What a customer's purchase is. Won deals: every won opportunity, "
        "worth its expected revenue. With Sales installed, confirmed sale "
        "orders (untaxed, in the company's currency at the order date's rate, "
        "whether or not a deal stands behind them; a won deal is then worth "
        "its confirmed orders) or posted customer invoices (credit notes "
        "reduce revenue). Changing it recomputes every month.",
    )

    @api.constrains("kpi_churn_days")
    def _check_kpi_churn_days(self):
        for company in self:
            if not 31 <= company.kpi_churn_days <= MAX_CHURN_DAYS:
                raise ValidationError(
                    self.env._(
                        "The churn period of %(company)s must lie between 31 days "
                        "(one month) and %(max)s days (ten years); %(days)s days "
                        "were given.",
                        company=company.name,
                        max=MAX_CHURN_DAYS,
                        days=company.kpi_churn_days,
                    )
                )

    @api.constrains(
        "kpi_nps_delay_days",
        "kpi_nps_interval_days",
        "kpi_feedback_validity_days",
        "kpi_data_retention_months",
    )
    def _check_kpi_upper_bounds(self):
        for company in self:
            for name, high in (
                ("kpi_nps_delay_days", MAX_FEEDBACK_DAYS),
                ("kpi_feedback_validity_days", MAX_FEEDBACK_DAYS),
                ("kpi_nps_interval_days", MAX_CHURN_DAYS),
            ):
                if company[name] > high:
                    raise ValidationError(
                        self.env._(
                            "%(setting)s of %(company)s may be at most %(max)s "
                            "days; %(days)s were given.",
                            setting=company._fields[name].get_description(self.env)[
                                "string"
                            ],
                            company=company.name,
                            max=high,
                            days=company[name],
                        )
                    )
            if not 1 <= company.kpi_data_retention_months <= MAX_RETENTION_MONTHS:
                raise ValidationError(
                    self.env._(
                        "Personal data of %(company)s are kept between 1 and "
                        "%(max)s months; %(months)s were given.",
                        company=company.name,
                        max=MAX_RETENTION_MONTHS,
                        months=company.kpi_data_retention_months,
                    )
                )

    @api.constrains(
        "kpi_churn_days",
        "kpi_new_customer_days",
        "kpi_at_risk_days",
        "kpi_nps_delay_days",
        "kpi_nps_interval_days",
        "kpi_feedback_validity_days",
    )
    def _check_kpi_lifecycle_days(self):
        for company in self:
            if (
                min(
                    company.kpi_new_customer_days,
                    company.kpi_at_risk_days,
                    company.kpi_nps_interval_days,
                    company.kpi_feedback_validity_days,
                )
                < 1
                or company.kpi_nps_delay_days < 0
            ):
                raise ValidationError(
                    self.env._(
                        "The customer lifecycle and feedback periods of %(company)s "
                        "must be positive numbers of days.",
                        company=company.name,
                    )
                )
            if not (
                company.kpi_new_customer_days
                < company.kpi_at_risk_days
                < company.kpi_churn_days
            ):
                raise ValidationError(
                    self.env._(
                        "For %(company)s, a customer must be new for fewer days "
                        "(%(new)s) than it takes to be at risk (%(risk)s), and be "
                        "at risk before it churns (%(churn)s days).",
                        company=company.name,
                        new=company.kpi_new_customer_days,
                        risk=company.kpi_at_risk_days,
                        churn=company.kpi_churn_days,
                    )
                )

    @api.constrains("kpi_goal_at_risk_gap", "kpi_goal_off_track_gap")
    def _check_kpi_goal_gaps(self):
        for company in self:
            if not 0 <= company.kpi_goal_at_risk_gap <= company.kpi_goal_off_track_gap:
                raise ValidationError(
                    self.env._(
                        "The gap at which goals of %(company)s are at risk must be "
                        "positive and smaller than the one at which they are off "
                        "track.",
                        company=company.name,
                    )
                )

    @api.constrains("kpi_clv_margin")
    def _check_kpi_clv_margin(self):
        for company in self:
            if not 0 < company.kpi_clv_margin <= 100:
                raise ValidationError(
                    self.env._(
                        "The CLV margin of %(company)s must lie between 0 and 100 "
                        "percent.",
                        company=company.name,
                    )
                )

    def write(self, vals):
        changed = self.browse()
        settings = [name for name in KPI_COMPANY_SETTINGS if name in vals]
        if settings:
            changed = self.filtered(
                lambda company: any(
                    company[name]
                    != company._fields[name].convert_to_cache(vals[name], company)
                    for name in settings
                )
            )
        res = super().write(vals)
        changed._kpi_queue_all_months()
        if "kpi_feedback_requests" in vals:
            self._kpi_sync_feedback_crons()
        return res

    @api.model
    def _kpi_feedback_cron_xmlids(self):
        """The scheduled actions that e-mail feedback requests (bridges add
        theirs): they run exactly while a company asks for feedback."""
        return ["crm_strategic_kpi.ir_cron_send_nps_requests"]

    @api.model
    def _kpi_sync_feedback_crons(self):
        active = bool(self.sudo().search_count([("kpi_feedback_requests", "=", True)]))
        for xmlid in self._kpi_feedback_cron_xmlids():
            cron = self.env.ref(xmlid, raise_if_not_found=False)
            if cron and cron.sudo().active != active:
                cron.sudo().active = active

    def _kpi_queue_all_months(self):
        """Queue every month of these companies' figures (a day in its
        middle, which no timezone moves to another month): the next nightly
        run recomputes them all, after a setting they depend on changed."""
        Runner = self.env["crm.kpi.run"].sudo()
        today = fields.Date.context_today(self)
        days = []
        for company in self:
            first = Runner._first_data_month(company)
            if first:
                days += [
                    (company.id, month + timedelta(days=14))
                    for month in Runner._month_range(first, today)
                ]
        self.env["crm.kpi.changed.day"].sudo()._mark(days)

    def _get_kpi_timezone(self):
        """The company's timezone: its partner's, else the first administrator's,
        else UTC."""
        self.ensure_one()
        if self.partner_id.tz:
            return self.partner_id.tz
        admin = (
            self.env["res.users"]
            .sudo()
            .search(
                [
                    ("group_ids", "in", self.env.ref("base.group_system").id),
                    ("tz", "!=", False),
                ],
                order="id",
                limit=1,
            )
        )
        return admin.tz or "UTC"
