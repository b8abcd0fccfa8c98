"""The workbook of the strategic KPI report: a summary, a sheet per
category with a chart per KPI, the goals and the raw facts."""

import io
import re
from collections import defaultdict
from datetime import date

import xlsxwriter
from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import split_every
from odoo.tools.misc import format_date

from ..engine import DIMS
from ..engine.rules import month_start
from ..models.crm_kpi import CATEGORIES

# Data sheet: facts read per batch, to keep the ORM cache small
FACT_BATCH = 5000
# Excel's last row (1-based) minus the header
EXCEL_MAX_FACTS = 1_048_575
BREAKDOWN_FIELDS = {
    "team": "team_id",
    "segment": "segment_id",
    "campaign": "campaign_id",
}
# Excel's "good / neutral / bad" cell styles: (background, font)
STATUS_COLORS = {
    "on_track": ("#C6EFCE", "#006100"),
    "at_risk": ("#FFEB9C", "#9C5700"),
    "off_track": ("#FFC7CE", "#9C0006"),
}
UNIT_FORMATS = {
    # the values of percent KPIs are already multiplied by 100
    "percent": '0.0" %"',
    "days": "#,##0.0",
    "hours": "#,##0.0",
    "count": "#,##0",
    "score": "#,##0.0",
    "ratio": "#,##0.00",
}
CHART_WIDTH, CHART_HEIGHT = 520, 300
MONTH_FORMAT = "mmm yyyy"


class CrmKpiReportWizard(models.TransientModel):
    _inherit = "crm.kpi.report.wizard"

    def _generate_xlsx(self):
        """The report as the bytes of an .xlsx file."""
        self.ensure_one()
        # the multi-company rules read the active companies: make the report's
        # one of them (with_company refuses a company the user may not access)
        self = self.with_company(self.company_id)
        kpis = self._get_kpis()
        output = io.BytesIO()
        workbook = xlsxwriter.Workbook(output, {"in_memory": True})
        workbook.set_properties(
            {
                "title": self.env._("Strategic KPIs"),
                "company": self.company_id.name,
                "comments": self.env._(
                    "%(start)s to %(end)s",
                    start=self.date_from.strftime("%Y-%m"),
                    end=self.date_to.strftime("%Y-%m"),
                ),
            }
        )
        styles = self._get_xlsx_styles(workbook)
        self._write_summary_sheet(workbook, styles, kpis)
        categories = dict(
            self.env["crm.kpi"]._fields["category"]._description_selection(self.env)
        )
        for code, _label in CATEGORIES:
            category_kpis = kpis.filtered(lambda kpi, code=code: kpi.category == code)
            if category_kpis:
                self._write_category_sheet(
                    workbook, styles, categories[code], category_kpis
                )
        self._write_goals_sheet(workbook, styles, kpis)
        self._write_data_sheet(workbook, styles, kpis)
        workbook.close()
        return output.getvalue()

    def _get_number_format(self, unit):
        """Excel number format of the values of a unit."""
        if unit != "currency":
            return UNIT_FORMATS.get(unit, "#,##0.00")
        currency = self.company_id.currency_id
        number = "#,##0" + ("." + "0" * currency.decimal_places if currency else "")
        symbol = (currency.symbol or "").replace('"', "")
        if currency.position == "before":
            return f'"{symbol} "{number}'
        return f'{number}" {symbol}"'

    def _get_xlsx_styles(self, workbook):
        """The cell formats of the report, by name; ``unit:<unit>`` for the
        values of each unit, ``bold:<unit>`` for the total rows."""
        header = {"bold": True, "bg_color": "#D9E1F2", "border": 1, "valign": "top"}
        styles = {
            "header": workbook.add_format({**header, "text_wrap": True}),
            "header_month": workbook.add_format(
                {**header, "num_format": MONTH_FORMAT, "align": "right"}
            ),
            "bold": workbook.add_format({"bold": True}),
            "indent": workbook.add_format({"indent": 1}),
            "month": workbook.add_format({"num_format": MONTH_FORMAT}),
            "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
            "number": workbook.add_format({"num_format": "#,##0.00"}),
            "percent": workbook.add_format({"num_format": UNIT_FORMATS["percent"]}),
        }
        units = self.env["crm.kpi"]._fields["unit"].get_values(self.env)
        for unit in units:
            num_format = self._get_number_format(unit)
            styles[f"unit:{unit}"] = workbook.add_format({"num_format": num_format})
            styles[f"bold:{unit}"] = workbook.add_format(
                {"num_format": num_format, "bold": True}
            )
        for status, (background, font) in STATUS_COLORS.items():
            styles[f"status:{status}"] = workbook.add_format(
                {"bg_color": background, "font_color": font}
            )
        return styles

    @api.model
    def _get_sheet_name(self, name, used):
        """``name`` made a valid and unique Excel sheet name."""
        base = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:31] or "Sheet"
        candidate, number = base, 1
        while candidate.lower() in used:
            number += 1
            suffix = f" ({number})"
            candidate = base[: 31 - len(suffix)] + suffix
        used.add(candidate.lower())
        return candidate

    def _add_sheet(self, workbook, name):
        used = {sheet.get_name().lower() for sheet in workbook.worksheets()}
        return workbook.add_worksheet(self._get_sheet_name(name, used))

    @api.model
    def _write_value(self, sheet, row, col, value, cell_format):
        if value is None:
            sheet.write_blank(row, col, None, cell_format)
        else:
            sheet.write_number(row, col, value, cell_format)

    @api.model
    def _write_header(self, sheet, styles, headers, row=0):
        """Months as dates; the running month, not over yet, says so."""
        running = month_start(fields.Date.context_today(self))
        for col, header in enumerate(headers):
            if isinstance(header, date) and month_start(header) == running:
                label = self.env._(
                    "%(month)s (to date)",
                    month=format_date(self.env, header, date_format="MMM y"),
                )
                sheet.write_string(row, col, label, styles["header"])
            elif isinstance(header, date):
                sheet.write_datetime(row, col, header, styles["header_month"])
            else:
                sheet.write_string(row, col, header, styles["header"])

    def _get_status_labels(self):
        return dict(
            self.env["crm.kpi.goal"]._fields["status"]._description_selection(self.env)
        )

    def _write_status(self, sheet, styles, row, col, status):
        if status:
            sheet.write_string(
                row, col, self._get_status_labels()[status], styles[f"status:{status}"]
            )

    def _write_summary_sheet(self, workbook, styles, kpis):
        """One row per KPI: the last two months, the change, and the target and
        status of each running goal on the KPI (one row per further goal)."""
        sheet = self._add_sheet(workbook, self.env._("Summary"))
        latest = month_start(self.date_to)
        previous = latest - relativedelta(months=1)
        sums = self._get_sums(kpis, previous, latest)
        goals_by_kpi = defaultdict(list)
        for goal in self._get_goals(kpis, ["running"]):
            goals_by_kpi[goal.kpi_id].append(goal)
        units = dict(
            self.env["crm.kpi"]._fields["unit"]._description_selection(self.env)
        )
        self._write_header(
            sheet,
            styles,
            [
                self.env._("KPI"),
                self.env._("Unit"),
                latest,
                previous,
                self.env._("Change"),
                self.env._("Goal"),
                self.env._("Target"),
                self.env._("Goal Status"),
            ],
        )
        sheet.set_column(0, 0, 40)
        sheet.set_column(1, 4, 13)
        sheet.set_column(5, 5, 30)
        sheet.set_column(6, 7, 13)
        sheet.freeze_panes(1, 1)
        row = 1
        for kpi in kpis:
            value_format = styles[f"unit:{kpi.unit}"]
            last_value = self._get_kpi_value(kpi, sums.get((kpi.id, latest, None)))
            previous_value = self._get_kpi_value(
                kpi, sums.get((kpi.id, previous, None))
            )
            change = (
                last_value - previous_value
                if last_value is not None and previous_value is not None
                else None
            )
            sheet.write_string(row, 0, kpi.name, styles["bold"])
            sheet.write_string(row, 1, units[kpi.unit])
            self._write_value(sheet, row, 2, last_value, value_format)
            self._write_value(sheet, row, 3, previous_value, value_format)
            self._write_value(sheet, row, 4, change, value_format)
            for goal in goals_by_kpi[kpi] or [None]:
                if goal:
                    sheet.write_string(row, 5, goal.name)
                    sheet.write_number(row, 6, goal.target_value, value_format)
                    self._write_status(sheet, styles, row, 7, goal.status)
                row += 1
        sheet.autofilter(0, 0, max(row - 1, 1), 7)

    def _get_breakdown_rows(self, kpi, sums):
        """The breakdown values with facts of ``kpi``, by name, "not set"
        last."""
        values = {dim for kpi_id, _month, dim in sums if kpi_id == kpi.id}
        return sorted(values, key=lambda dim: (not dim, dim.display_name or ""))

    def _write_category_sheet(self, workbook, styles, name, kpis):
        """Months as columns, one row per KPI (then per breakdown value), and a
        line chart per KPI under the table."""
        sheet = self._add_sheet(workbook, name)
        months = self._get_months()
        dimension = BREAKDOWN_FIELDS.get(self.breakdown)
        totals = self._get_sums(kpis, self.date_from, self.date_to)
        details = (
            self._get_sums(kpis, self.date_from, self.date_to, dimension)
            if dimension
            else {}
        )
        Value = self.env["crm.kpi.value"]
        headers = [self.env._("KPI")]
        if dimension:
            headers.append(Value._fields[dimension]._description_string(self.env))
        first_col = len(headers)
        self._write_header(sheet, styles, headers + months)
        sheet.set_column(0, 0, 40)
        if dimension:
            sheet.set_column(1, 1, 25)
        sheet.set_column(first_col, first_col + len(months) - 1, 12)
        sheet.freeze_panes(1, first_col)
        last_col = first_col + len(months) - 1
        not_set = self.env._("Not set")
        row = 1
        charts = []
        for kpi in kpis:
            # [(row, label)] of the chart's series
            series = [(row, self.env._("Total") if dimension else kpi.name)]
            sheet.write_string(row, 0, kpi.name, styles["bold"])
            if dimension:
                sheet.write_string(row, 1, series[0][1], styles["bold"])
            for col, month in enumerate(months, first_col):
                value = self._get_kpi_value(kpi, totals.get((kpi.id, month, None)))
                self._write_value(sheet, row, col, value, styles[f"bold:{kpi.unit}"])
            row += 1
            for dim in self._get_breakdown_rows(kpi, details):
                label = dim.display_name if dim else not_set
                series.append((row, label))
                sheet.set_row(row, None, None, {"level": 1})
                sheet.write_string(row, 0, kpi.name, styles["indent"])
                sheet.write_string(row, 1, label, styles["indent"])
                for col, month in enumerate(months, first_col):
                    value = self._get_kpi_value(kpi, details.get((kpi.id, month, dim)))
                    self._write_value(
                        sheet, row, col, value, styles[f"unit:{kpi.unit}"]
                    )
                row += 1
            charts.append(
                self._make_chart(workbook, sheet, kpi, series, first_col, last_col)
            )
        chart_row = row + 1
        for index, chart in enumerate(charts):
            sheet.insert_chart(
                chart_row,
                0,
                chart,
                {
                    "x_offset": (index % 2) * (CHART_WIDTH + 20),
                    "y_offset": (index // 2) * (CHART_HEIGHT + 20),
                },
            )

    def _make_chart(self, workbook, sheet, kpi, series, first_col, last_col):
        """A native line chart of the rows ``series`` [(row, label)] of
        ``sheet`` over the month columns."""
        chart = workbook.add_chart({"type": "line"})
        name = sheet.get_name()
        label_col = first_col - 1
        for row, _label in series:
            chart.add_series(
                {
                    "name": [name, row, label_col],
                    "categories": [name, 0, first_col, 0, last_col],
                    "values": [name, row, first_col, row, last_col],
                    "marker": {"type": "circle", "size": 5},
                }
            )
        chart.set_title({"name": kpi.name, "name_font": {"size": 11}})
        chart.set_x_axis({"num_format": MONTH_FORMAT})
        chart.set_y_axis({"num_format": self._get_number_format(kpi.unit)})
        chart.set_legend({"position": "bottom"} if len(series) > 1 else {"none": True})
        chart.show_blanks_as("gap")
        chart.set_size({"width": CHART_WIDTH, "height": CHART_HEIGHT})
        return chart

    def _write_goals_sheet(self, workbook, styles, kpis):
        """The running and closed goals on the KPIs, progress as a data bar."""
        sheet = self._add_sheet(workbook, self.env._("Goals"))
        Goal = self.env["crm.kpi.goal"]
        states = dict(Goal._fields["state"]._description_selection(self.env))
        self._write_header(
            sheet,
            styles,
            [
                self.env._("Goal"),
                self.env._("KPI"),
                self.env._("Owner"),
                self.env._("State"),
                self.env._("Start"),
                self.env._("Deadline"),
                self.env._("Baseline"),
                self.env._("Target"),
                self.env._("Current Value"),
                self.env._("Progress"),
                self.env._("Expected Progress"),
                self.env._("Status"),
            ],
        )
        sheet.set_column(0, 1, 30)
        sheet.set_column(2, 2, 20)
        sheet.set_column(3, 11, 13)
        sheet.freeze_panes(1, 1)
        goals = self._get_goals(kpis, ["running", "achieved", "missed"])
        for row, goal in enumerate(goals, 1):
            value_format = styles[f"unit:{goal.kpi_id.unit}"]
            sheet.write_string(row, 0, goal.name)
            sheet.write_string(row, 1, goal.kpi_id.name)
            sheet.write_string(row, 2, goal.user_id.name or "")
            sheet.write_string(row, 3, states[goal.state])
            for col, day in ((4, goal.date_start), (5, goal.date_deadline)):
                if day:
                    sheet.write_datetime(row, col, day, styles["date"])
            sheet.write_number(row, 6, goal.baseline_value, value_format)
            sheet.write_number(row, 7, goal.target_value, value_format)
            self._write_value(
                sheet,
                row,
                8,
                goal.current_value if goal.has_current_value else None,
                value_format,
            )
            sheet.write_number(row, 9, goal.progress, styles["percent"])
            sheet.write_number(row, 10, goal.expected_progress, styles["percent"])
            self._write_status(sheet, styles, row, 11, goal.status)
        if goals:
            sheet.conditional_format(
                1,
                9,
                len(goals),
                9,
                {
                    "type": "data_bar",
                    "bar_color": "#63BE7B",
                    "min_type": "num",
                    "min_value": 0,
                    "max_type": "num",
                    "max_value": 100,
                },
            )
            sheet.autofilter(0, 0, len(goals), 11)

    def _write_data_sheet(self, workbook, styles, kpis):
        """The raw facts of the period that the user may read."""
        sheet = self._add_sheet(workbook, self.env._("Data"))
        Value = self.env["crm.kpi.value"]
        dimensions = ["company_id", *DIMS]
        self._write_header(
            sheet,
            styles,
            [
                Value._fields["date"]._description_string(self.env),
                Value._fields["kpi_code"]._description_string(self.env),
                self.env._("KPI"),
            ]
            + [Value._fields[f]._description_string(self.env) for f in dimensions]
            + [
                self.env._("Numerator"),
                self.env._("Denominator"),
                self.env._("Value"),
            ],
        )
        sheet.set_column(0, 1, 14)
        sheet.set_column(2, 2, 35)
        sheet.set_column(3, 9, 18)
        sheet.set_column(10, 12, 13)
        sheet.freeze_panes(1, 0)
        facts = Value.search(
            self._get_fact_domain(kpis, self.date_from, self.date_to),
            order="date, kpi_id, id",
        )
        if len(facts) > EXCEL_MAX_FACTS:
            raise UserError(
                self.env._(
                    "The period holds %(count)s figures, more than an Excel sheet "
                    "can take: choose a shorter period or fewer KPIs.",
                    count=len(facts),
                )
            )
        row = 1
        for batch_ids in split_every(FACT_BATCH, facts.ids):
            batch = Value.browse(batch_ids)
            for fact in batch:
                sheet.write_datetime(row, 0, fact.date, styles["month"])
                sheet.write_string(row, 1, fact.kpi_code or "")
                sheet.write_string(row, 2, fact.kpi_id.name)
                for col, fname in enumerate(dimensions, 3):
                    sheet.write_string(row, col, fact[fname].display_name or "")
                sheet.write_number(row, 10, fact.numerator, styles["number"])
                sheet.write_number(row, 11, fact.denominator, styles["number"])
                self._write_value(
                    sheet,
                    row,
                    12,
                    fact.value if fact.has_value else None,
                    styles[f"unit:{fact.unit}"],
                )
                row += 1
            batch.invalidate_recordset()
        sheet.autofilter(0, 0, max(row - 1, 1), 12)

    # ------------------------------------------------------------ cron
