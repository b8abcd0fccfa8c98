"""Rules every part of the addon shares: calendar months."""

from datetime import datetime


def month_start(day):
    """The first day of the month of ``day`` (a date or a datetime)."""
    if isinstance(day, datetime):
        day = day.date()
    return day.replace(day=1)


def months_between(first, last):
    """Number of months from the month of ``first`` to that of ``last``,
    both included."""
    return (last.year - first.year) * 12 + last.month - first.month + 1
