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


# the revenue source of the addon itself (res.company.kpi_revenue_source)
DEFAULT_REVENUE_SOURCE = "expected_revenue"


def deal_revenue(lead_alias="l"):
    """Revenue of a won deal in its company's currency under the default
    revenue source: the deal's expected revenue, which Odoo keeps in the
    deal company's currency, so no conversion applies. (Other revenue
    sources value deals their own way, see ``RevenueSource``.)"""
    return SQL(
        "COALESCE(%s, 0)::numeric",
        SQL.identifier(lead_alias, "expected_revenue"),
    )


def decompose_change(factor, is_ratio, before, after):
    """Why a KPI changed between period 0 and period 1, group by group.

    ``before`` and ``after``: {group: (Σnumerator, Σdenominator)} of each
    period. Returns {group: (rate effect, mix effect)} whose sum over all
    groups is the change of the value exactly (up to float rounding), or
    None when a ratio has no value in one of the periods (Σdenominator 0).

    A count or an amount changes by factor x (N1 - N0) per group (as mix
    effect, rate effect 0). A ratio R = factor x ΣN / ΣD is Σ w·r over the
    groups (weight w = D / ΣD, rate r = N / D); per group, with c = factor x
    N / ΣD its part of R in a period:

    - in both periods: rate effect factor x w0 x (r1 - r0), mix effect
      factor x (w1 - w0) x r1;
    - otherwise (no denominator in one period: a group of one period only,
      or a numerator without a denominator such as costs of a team without
      new customers): rate effect 0, mix effect c1 - c0.
    """
    groups = set(before) | set(after)
    if not is_ratio:
        return {
            group: (
                0.0,
                factor * (after.get(group, (0, 0))[0] - before.get(group, (0, 0))[0]),
            )
            for group in groups
        }
    total_before = sum(den for _num, den in before.values())
    total_after = sum(den for _num, den in after.values())
    if not total_before or not total_after:
        return None
    effects = {}
    for group in groups:
        num0, den0 = before.get(group, (0, 0))
        num1, den1 = after.get(group, (0, 0))
        part0 = factor * num0 / total_before
        part1 = factor * num1 / total_after
        rate = 0.0
        if den0 and den1:
            rate = factor * den0 / total_before * (num1 / den1 - num0 / den0)
        effects[group] = (rate, part1 - part0 - rate)
    return effects
