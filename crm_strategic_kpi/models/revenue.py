from odoo.tools import SQL


def deal_revenue(lead_alias="l"):
    """Revenue of a won deal in its company's currency: the one place that
    says where revenue comes from (the company setting "revenue source"; today
    the deal's expected revenue, which Odoo keeps in the deal company's
    currency, so no conversion applies)."""
    return SQL(
        "COALESCE(%s, 0)::numeric",
        SQL.identifier(lead_alias, "expected_revenue"),
    )
