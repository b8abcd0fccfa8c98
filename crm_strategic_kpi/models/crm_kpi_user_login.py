from odoo import fields, models


class CrmKpiUserLogin(models.Model):
    """Logins per user and day, kept for the CRM adoption KPI.

    Odoo's own ``res.users.log`` is garbage-collected down to the latest login
    per user, so it cannot answer "how many logins last March".
    """

    _name = "crm.kpi.user.login"
    _description = "KPI Login Count"
    _log_access = False
    _order = "day desc"

    user_id = fields.Many2one(
        comodel_name="res.users",
        ondelete="cascade",
        index=True,
        help="Empty once the retention period has passed: the row then holds "
        "the logins of a whole month of the company and the number of its "
        "users who logged in.",
    )
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, ondelete="cascade"
    )
    day = fields.Date(required=True)
    count = fields.Integer(required=True, default=1)
    user_count = fields.Integer(
        string="Users",
        help="Anonymous rows only: internal users who logged in that month.",
    )

    _user_day_unique = models.Constraint(
        "UNIQUE(user_id, day)", "One login counter per user and day."
    )
