from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools.misc import format_date

PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


class CrmKpiValue(models.Model):
    _inherit = "crm.kpi.value"

    @api.model
    def _overview_periods(self, period, to_date, today):
        """(start, months, previous start) of the compared periods.

        By default complete months only, so that both sides are alike: the
        last complete month against the one before, the last complete quarter
        against the one before, the year up to the last complete month
        against the same months a year earlier. With ``to_date`` the running
        month, quarter or year up to today, against the whole period before
        it: not alike, and said so."""
        this_month = today.replace(day=1)
        if to_date:
            if period == "quarter":
                start = this_month.replace(month=(this_month.month - 1) // 3 * 3 + 1)
            elif period == "year":
                start = this_month.replace(month=1)
            else:
                start = this_month
            length = PERIOD_MONTHS[period]
            return start, length, start - relativedelta(months=length)
        last = this_month - relativedelta(months=1)
        if period == "quarter":
            start = last.replace(month=(last.month - 1) // 3 * 3 + 1)
            if start + relativedelta(months=3) > this_month:
                # the quarter of the last complete month is still running
                start -= relativedelta(months=3)
            return start, 3, start - relativedelta(months=3)
        if period == "year":
            start = last.replace(month=1)
            length = last.month
            return start, length, start - relativedelta(years=1)
        return last, 1, last - relativedelta(months=1)

    @api.model
    def _overview_label(self, start, months, to_date=False, today=None):
        """The period in words, in the user's language: "November 2026",
        "July to September 2026", "December 2026 to 7 Dec (to date)"."""
        last = start + relativedelta(months=months - 1)
        if to_date and today and last >= today.replace(day=1):
            return self.env._(
                "%(period)s to %(day)s (to date)",
                period=self._overview_label(start, months),
                day=format_date(self.env, today, date_format="d MMM"),
            )
        if months == 1:
            return format_date(self.env, start, date_format="MMMM y")
        return self.env._(
            "%(first)s to %(last)s",
            first=format_date(self.env, start, date_format="MMMM"),
            last=format_date(self.env, last, date_format="MMMM y"),
        )

    @api.model
    def get_overview_data(
        self,
        period="month",
        company_id=None,
        team_id=None,
        segment_id=None,
        to_date=False,
    ):
        """The overview dashboard: one card per favourite KPI with the value
        of the period, of the period it is compared with, the change, a
        12-month sparkline and the goals on the KPI. Reads facts only, with
        the user's access rules, in one grouped query."""
        if period not in PERIOD_MONTHS:
            period = "month"
        today = fields.Date.context_today(self)
        this_month = today.replace(day=1)
        start, length, prev_start = self._overview_periods(period, to_date, today)
        prev_length = PERIOD_MONTHS[period] if to_date else length
        spark_start = this_month - relativedelta(months=11)
        scope = []
        if company_id:
            scope.append(("company_id", "=", int(company_id)))
        if team_id:
            scope.append(("team_id", "=", int(team_id)))
        if segment_id:
            scope.append(("segment_id", "=", int(segment_id)))
        kpis = self.env["crm.kpi"].search([("favorite", "=", True)])
        groups = self._read_group(
            [
                ("kpi_id", "in", kpis.ids),
                ("date", ">=", min(prev_start, spark_start)),
                ("date", "<=", this_month),
                *scope,
            ],
            ["kpi_id", "date:month"],
            ["numerator:sum", "denominator:sum"],
        )
        sums = {}
        for kpi, month, num, den in groups:
            sums[kpi.id, month.replace(day=1)] = (num or 0.0, den or 0.0)

        def value(kpi, first, months):
            num = den = 0.0
            for i in range(months):
                n, d = sums.get((kpi.id, first + relativedelta(months=i)), (0, 0))
                num += n
                den += d
            return kpi._value_from_sums(num, den)

        goals = self.env["crm.kpi.goal"].search_read(
            [("state", "=", "running"), ("kpi_id", "in", kpis.ids)]
            + ([("company_id", "=", int(company_id))] if company_id else []),
            ["name", "kpi_id", "status", "progress"],
        )
        cards = []
        for kpi in kpis:
            current = value(kpi, start, length)
            previous = value(kpi, prev_start, prev_length)
            change = (
                current - previous
                if current is not None and previous is not None
                else None
            )
            good = None
            # an incomplete period against a whole one gets no colour
            if change and kpi.better != "none" and not to_date:
                good = (change > 0) == (kpi.better == "higher")
            cards.append(
                {
                    "kpi_id": kpi.id,
                    "code": kpi.code,
                    "name": kpi.name,
                    "description": kpi.description or "",
                    "unit": kpi.unit,
                    "better": kpi.better,
                    "value": current,
                    "previous": previous,
                    "change": change,
                    "change_pct": (
                        100.0 * change / abs(previous) if change and previous else None
                    ),
                    "good": good,
                    "spark": [
                        value(kpi, spark_start + relativedelta(months=i), 1)
                        for i in range(12)
                    ],
                    "goals": [
                        {
                            "id": g["id"],
                            "name": g["name"],
                            "status": g["status"],
                            "progress": min(max(g["progress"], 0.0), 100.0),
                        }
                        for g in goals
                        if g["kpi_id"][0] == kpi.id
                    ],
                }
            )
        companies = self.env.user.company_ids
        freshness = self.env["crm.kpi.changed.day"].get_freshness()
        return {
            "period": period,
            "to_date": bool(to_date),
            "label": self._overview_label(start, length, to_date, today),
            "previous_label": self._overview_label(prev_start, prev_length),
            # UTC, formatted by the client in the user's timezone and locale
            "computed_at": freshness["computed_at"],
            "refresh_interval": freshness["refresh_interval"],
            "date_from": fields.Date.to_string(start),
            "months": length,
            "previous_from": fields.Date.to_string(prev_start),
            "previous_months": prev_length,
            "currency_symbol": (
                self.env["res.company"].browse(int(company_id)).currency_id.symbol
                if company_id
                else self.env.company.currency_id.symbol
            ),
            "cards": cards,
            "companies": [[c.id, c.name] for c in companies],
            "teams": self.env["crm.team"].search_read([], ["name"], limit=200),
            "segments": self.env["crm.kpi.segment"].search_read(
                [], ["name"], limit=200
            ),
        }
