from odoo import fields, models
from odoo.tools import SQL


class ResUsers(models.Model):
    _inherit = "res.users"

    def _update_last_login(self):
        res = super()._update_last_login()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO crm_kpi_user_login (user_id, company_id, day, count)
                VALUES (%(user)s, %(company)s, %(day)s, 1)
                ON CONFLICT (user_id, day)
                DO UPDATE SET count = crm_kpi_user_login.count + 1
                """,
                user=self.env.uid,
                company=self.env.user.company_id.id,
                day=fields.Date.today(),
            )
        )
        return res
