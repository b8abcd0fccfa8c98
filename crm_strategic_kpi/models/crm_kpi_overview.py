from dateutil.relativedelta import relativedelta

from odoo import api, fields, models

PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


class CrmKpiValue(models.Model):
    _inherit = "crm.kpi.value"

    @api.model
    def get_overview_data(
        self, period="month", company_id=None, team_id=None, segment_id=None
    ):
        """The overview dashboard: one card per favourite KPI with this
        period's value, the previous period's, the change, a 12-month
        sparkline and the goals on the KPI. Reads facts only, with the user's
        access rules, in one grouped query."""
        if period not in PERIOD_MONTHS:
            period = "month"
        today = fields.Date.context_today(self)
        this_month = today.replace(day=1)
        if period == "quarter":
            start = this_month.replace(month=(this_month.month - 1) // 3 * 3 + 1)
        elif period == "year":
            start = this_month.replace(month=1)
        else:
            start = this_month
        length = PERIOD_MONTHS[period]
        prev_start = start - relativedelta(months=length)
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
            current = value(kpi, start, min(length, 12))
            previous = value(kpi, prev_start, length)
            change = (
                current - previous
                if current is not None and previous is not None
                else None
            )
            good = None
            if change and kpi.better != "none":
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
        freshness = self.env["crm.kpi.changed.day"]._get_freshness()
        intervals = dict(
            self.env["res.config.settings"]._fields["kpi_refresh_interval"].selection
        )
        return {
            "period": period,
            # UTC, formatted by the client in the user's timezone and locale
            "computed_at": freshness["computed_at"],
            "refresh_interval": intervals.get(freshness["interval"], ""),
            "date_from": fields.Date.to_string(start),
            "previous_from": fields.Date.to_string(prev_start),
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
