from datetime import date, timedelta

from odoo import api, fields, models
from odoo.tools import SQL


class CrmKpiPrivacy(models.AbstractModel):
    """Personal data kept by the strategic KPIs, over time.

    After each company's retention period the nightly run erases feedback
    comments and turns the per-user login counts of whole months into one
    anonymous row per company and month (logins and number of users), so that
    the KPIs of those months keep their values.
    """

    _name = "crm.kpi.privacy"
    _description = "Strategic KPIs: personal data retention"

    @api.model
    def _apply_retention(self, today=None):
        """Anonymise what is older than each company's retention period.
        Returns (feedback comments erased, login rows anonymised)."""
        today = today or fields.Date.context_today(self)
        cr = self.env.cr
        self.env.flush_all()
        cr.execute(
            SQL(
                """
                UPDATE crm_kpi_feedback f SET comment = NULL
                  FROM res_company c
                 WHERE c.id = f.company_id AND f.comment IS NOT NULL
                   AND f.date < %(today)s::date
                               - c.kpi_data_retention_months * INTERVAL '1 month'
                """,
                today=today,
            )
        )
        comments = cr.rowcount
        # whole months only, so that a month's users are counted once
        cr.execute(
            SQL(
                """
                WITH old AS (
                    DELETE FROM crm_kpi_user_login lg
                     USING res_company c
                     WHERE c.id = lg.company_id AND lg.user_id IS NOT NULL
                       AND lg.day < date_trunc(
                               'month', %(today)s::date
                               - c.kpi_data_retention_months * INTERVAL '1 month')
                    RETURNING lg.user_id, lg.company_id, lg.day, lg.count
                ), merged AS (
                    INSERT INTO crm_kpi_user_login
                           (user_id, company_id, day, count, user_count)
                    SELECT NULL, o.company_id, date_trunc('month', o.day)::date,
                           SUM(o.count), COUNT(DISTINCT o.user_id)
                      FROM old o
                      JOIN res_users u ON u.id = o.user_id AND NOT u.share
                     GROUP BY o.company_id, date_trunc('month', o.day)
                    RETURNING company_id, day
                )
                SELECT (SELECT COUNT(*) FROM old),
                       (SELECT array_agg(ARRAY[company_id, day - DATE '2000-01-01'])
                          FROM merged)
                """,
                today=today,
            )
        )
        logins, months = cr.fetchone()
        # the facts of those months lose their user dimension with the run
        epoch = date(2000, 1, 1)
        self.env["crm.kpi.changed.day"].sudo()._mark(
            [
                (company_id, epoch + timedelta(days=days + 14))
                for company_id, days in months or ()
            ]
        )
        self.env["crm.kpi.feedback"].invalidate_model(["comment"])
        self.env["crm.kpi.user.login"].invalidate_model()
        return comments, logins
