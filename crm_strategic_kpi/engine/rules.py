"""Rules every part of the addon shares: calendar months, the value of a KPI
from its sums (in Python and in SQL), where revenue comes from."""

from datetime import datetime

from odoo.tools import SQL


def month_start(day):
    """The first day of the month of ``day`` (a date or a datetime)."""
    if isinstance(day, datetime):
        day = day.date()
    return day.replace(day=1)


def months_between(first, last):
    """Number of months from the month of ``first`` to that of ``last``,
    both included."""
    return (last.year - first.year) * 12 + last.month - first.month + 1


def value_from_sums(factor, is_ratio, numerator, denominator):
    """A KPI's value from its summed facts: factor x Σnumerator /
    Σdenominator for a ratio (None without a denominator), factor x
    Σnumerator for a count or an amount."""
    if is_ratio:
        return factor * numerator / denominator if denominator else None
    return factor * numerator


def value_from_sums_sql(factor, is_ratio, numerator, denominator):
    """``value_from_sums`` as an SQL expression (NULL without a
    denominator); the arguments are SQL expressions."""
    return SQL(
        "CASE WHEN %(ratio)s THEN %(factor)s * %(num)s / NULLIF(%(den)s, 0) "
        "ELSE %(factor)s * %(num)s END",
        ratio=is_ratio,
        factor=factor,
        num=numerator,
        den=denominator,
    )


def deal_revenue(lead_alias="l"):
    """Revenue of a won deal in its company's currency: the one place that
    says where revenue comes from (the company setting "revenue source"; today
    the deal's expected revenue, which Odoo keeps in the deal company's
    currency, so no conversion applies)."""
    return SQL(
        "COALESCE(%s, 0)::numeric",
        SQL.identifier(lead_alias, "expected_revenue"),
    )
