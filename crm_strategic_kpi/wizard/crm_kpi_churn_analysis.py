from dateutil.relativedelta import relativedelta

from odoo import fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..engine.rules import DEFAULT_REVENUE_SOURCE, month_start

TENURE_BANDS = [
    ("under_1y", "Under 1 year"),
    ("1_2y", "1 to 2 years"),
    ("2_5y", "2 to 5 years"),
    ("5y_plus", "5 years and more"),
]
NPS_CATEGORIES = [
    ("promoter", "Promoter"),
    ("passive", "Passive"),
    ("detractor", "Detractor"),
    ("none", "No answer"),
]


class CrmKpiChurnAnalysis(models.TransientModel):
    """What the customers who churned in a month have in common: one line per
    customer active at the start of the month, churned or retained, with the
    groups it belongs to. The churn rate of a group is the average of the
    lines' rate (100 for a churned customer, 0 for a retained one): churned
    customers of the group over its customers.

    Days are UTC days of the won deals' closing dates; a customer is active
    on a day when its latest won deal closed within the churn period before
    it (the churn-rate KPI's definition)."""

    _name = "crm.kpi.churn.analysis"
    _description = "Churn Analysis"

    month = fields.Date(
        required=True,
        default=lambda self: (
            month_start(fields.Date.context_today(self)) - relativedelta(months=1)
        ),
        help="The month whose churned customers are compared with the retained ones.",
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        default=lambda self: self.env.company,
    )
    line_ids = fields.One2many(
        comodel_name="crm.kpi.churn.analysis.line", inverse_name="analysis_id"
    )

    def action_analyse(self):
        """Compute the lines (set-based) and open them in the pivot."""
        self.ensure_one()
        if not (
            self.env.user.has_group("crm_strategic_kpi.group_kpi_manager")
            or self.env.user.has_group("sales_team.group_sale_salesman_all_leads")
        ):
            raise AccessError(
                self.env._(
                    "The churn analysis reads every customer of the company: "
                    "it is for KPI managers and users who see all figures."
                )
            )
        self.company_id.check_access("read")
        self._compute_lines()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._(
                "Churned and retained customers, %(month)s",
                month=self.month.strftime("%Y-%m"),
            ),
            "res_model": "crm.kpi.churn.analysis.line",
            "view_mode": "pivot,list",
            "views": [(False, "pivot"), (False, "list")],
            "domain": [("analysis_id", "=", self.id)],
            "context": {"group_by": []},
        }

    def _purchase_days(self):
        """The purchases of the company's customers (won deals, orders or
        invoices, after its revenue source), by day, with their channel."""
        sources = self.env["crm.kpi.run"]._get_catalogue().revenue_sources
        source = (
            sources.get(self.company_id.kpi_revenue_source)
            or sources[DEFAULT_REVENUE_SOURCE]
        )
        return source.customer_days(
            self.env, [self.company_id.id], lambda _column: SQL("TRUE")
        )

    def _compute_lines(self):
        self.ensure_one()
        self.env.flush_all()
        start = month_start(self.month)
        end = start + relativedelta(months=1)
        self.line_ids.unlink()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO crm_kpi_churn_analysis_line (
                    analysis_id, partner_id, team_id, user_id, segment_id,
                    source_id, medium_id, campaign_id, nps_category, tenure,
                    churned, churn_rate, customers, create_uid, write_uid,
                    create_date, write_date)
                WITH won AS (
                    SELECT d.cp, d.day, d.id, d.source_id, d.medium_id,
                           d.campaign_id
                      FROM (%(purchases)s) d
                ), per AS (
                    SELECT cp, MIN(day) AS first_won,
                           MAX(day) FILTER (WHERE day < %(start)s) AS last_before,
                           BOOL_OR(day >= %(start)s AND day < %(end)s) AS won_in
                      FROM won GROUP BY cp
                ), first_deal AS (
                    SELECT DISTINCT ON (cp) cp, source_id, medium_id, campaign_id
                      FROM won ORDER BY cp, day, id
                )
                SELECT %(analysis)s, c.id, u.sale_team_id, c.user_id,
                       c.kpi_segment_id, f.source_id, f.medium_id, f.campaign_id,
                       COALESCE(c.nps_category, 'none'),
                       CASE WHEN %(start)s - per.first_won < 365 THEN 'under_1y'
                            WHEN %(start)s - per.first_won < 730 THEN '1_2y'
                            WHEN %(start)s - per.first_won < 1826 THEN '2_5y'
                            ELSE '5y_plus' END,
                       per.churned, CASE WHEN per.churned THEN 100 ELSE 0 END, 1,
                       %(uid)s, %(uid)s, now() AT TIME ZONE 'UTC',
                       now() AT TIME ZONE 'UTC'
                  FROM (SELECT *,
                               -- no deal in the month, and the last one's churn
                               -- period ends by the month's end
                               NOT won_in AND last_before <= %(end)s - %(days)s
                                   AS churned
                          FROM per) per
                  JOIN res_partner c ON c.id = per.cp
                  JOIN first_deal f ON f.cp = per.cp
                  LEFT JOIN res_users u ON u.id = c.user_id
                 -- active at the start of the month
                 WHERE per.last_before > %(start)s - %(days)s
                """,
                analysis=self.id,
                purchases=self._purchase_days(),
                start=start,
                end=end,
                days=self.company_id.kpi_churn_days,
                uid=self.env.uid,
            )
        )
        self.line_ids.invalidate_recordset()


class CrmKpiChurnAnalysisLine(models.TransientModel):
    _name = "crm.kpi.churn.analysis.line"
    _description = "Churn Analysis Line"

    analysis_id = fields.Many2one(
        comodel_name="crm.kpi.churn.analysis", required=True, ondelete="cascade"
    )
    partner_id = fields.Many2one(comodel_name="res.partner", string="Customer")
    team_id = fields.Many2one(comodel_name="crm.team", string="Sales Team")
    user_id = fields.Many2one(comodel_name="res.users", string="Salesperson")
    segment_id = fields.Many2one(comodel_name="crm.kpi.segment")
    source_id = fields.Many2one(comodel_name="utm.source", string="Acquisition Source")
    medium_id = fields.Many2one(comodel_name="utm.medium", string="Acquisition Medium")
    campaign_id = fields.Many2one(
        comodel_name="utm.campaign", string="Acquisition Campaign"
    )
    nps_category = fields.Selection(
        selection=NPS_CATEGORIES, string="Latest NPS Answer"
    )
    tenure = fields.Selection(
        selection=TENURE_BANDS, help="Time since the first won deal."
    )
    churned = fields.Boolean()
    churn_rate = fields.Float(
        string="Churn Rate (%)",
        aggregator="avg",
        help="100 for a churned customer, 0 for a retained one: averaged over "
        "a group, the share of its customers who churned.",
    )
    customers = fields.Integer(default=1)
