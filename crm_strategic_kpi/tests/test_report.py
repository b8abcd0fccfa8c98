import base64
import io
import re
import zipfile
from datetime import date, datetime

import openpyxl
from freezegun import freeze_time

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged

from .common import KpiCommon

JAN, FEB, MAR, APR = (date(2026, m, 1) for m in range(1, 5))
MONTHS = [datetime(2026, m, 1) for m in range(1, 5)]
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@tagged("post_install", "-at_install")
class TestKpiReport(KpiCommon):
    """The Excel report on the fixture of common.KpiCommon, read back with
    openpyxl; the figures are those of test_kpi_catalogue."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.recompute_summary = cls.env["crm.kpi.run"].recompute(
            date_from=JAN, date_to=APR
        )
        Kpi = cls.env["crm.kpi"]
        cls.kpi_won_revenue = Kpi.search([("code", "=", "won_revenue")])
        cls.kpi_close_rate = Kpi.search([("code", "=", "close_rate")])
        cls.kpi_lead_count = Kpi.search([("code", "=", "lead_count")])
        Goal = cls.env["crm.kpi.goal"]
        goal_values = {
            "company_id": cls.company.id,
            "date_start": JAN,
            "date_deadline": date(2026, 6, 30),
            "user_id": cls.user1.id,
        }
        cls.goal_revenue = Goal.create(
            {
                **goal_values,
                "name": "Revenue 4000",
                "kpi_id": cls.kpi_won_revenue.id,
                "target_value": 4000,
                "state": "running",
                "status": "on_track",
                "progress": 60,
                "expected_progress": 50,
                "current_value": 2166.67,
                "has_current_value": True,
            }
        )
        cls.goal_close = Goal.create(
            {
                **goal_values,
                "name": "Close 70",
                "kpi_id": cls.kpi_close_rate.id,
                "target_value": 70,
                "state": "running",
                "status": "off_track",
                "progress": 20,
                "expected_progress": 50,
            }
        )
        cls.goal_close_2 = Goal.create(
            {
                **goal_values,
                "name": "Close 60",
                "kpi_id": cls.kpi_close_rate.id,
                "target_value": 60,
                "state": "running",
                "status": "at_risk",
                "progress": 40,
                "expected_progress": 50,
            }
        )
        cls.goal_draft = Goal.create(
            {
                **goal_values,
                "name": "Draft goal",
                "kpi_id": cls.kpi_won_revenue.id,
                "target_value": 1,
            }
        )

    # ------------------------------------------------------------ helpers
    def _wizard(self, **values):
        return self.env["crm.kpi.report.wizard"].create(
            {"date_from": JAN, "date_to": APR, "company_id": self.company.id, **values}
        )

    def _export(self, wizard=None, **values):
        wizard = wizard or self._wizard(**values)
        action = wizard.action_export()
        self.assertEqual(action["type"], "ir.actions.act_url")
        content = base64.b64decode(wizard.report_file)
        return content, openpyxl.load_workbook(io.BytesIO(content))

    def _rows(self, sheet):
        return list(sheet.iter_rows(values_only=True))

    def _find_row(self, sheet, *labels):
        """The 1-based index of the first row starting with ``labels``."""
        for index, row in enumerate(sheet.iter_rows(values_only=True), 1):
            if tuple(row[: len(labels)]) == labels:
                return index
        self.fail(f"no row {labels} in sheet {sheet.title}")

    def _values(self, sheet, row, first_col, count=4):
        return [
            sheet.cell(row, col).value for col in range(first_col, first_col + count)
        ]

    def _assert_values(self, actual, expected, msg=None):
        self.assertEqual(len(actual), len(expected), msg)
        for got, want in zip(actual, expected, strict=True):
            if want is None:
                self.assertIsNone(got, msg)
            else:
                self.assertAlmostEqual(got, want, places=2, msg=msg)

    def _currency_format(self):
        symbol = self.eur.symbol
        if self.eur.position == "before":
            return f'"{symbol} "#,##0.00'
        return f'#,##0.00" {symbol}"'

    # ------------------------------------------------------------ the wizard
    def test_defaults_are_the_last_12_complete_months(self):
        with freeze_time("2026-05-17 10:00:00"):
            wizard = self.env["crm.kpi.report.wizard"].create({})
        self.assertEqual(wizard.date_from, date(2025, 5, 1))
        self.assertEqual(wizard.date_to, date(2026, 4, 1))
        self.assertEqual(wizard.company_id, self.env.company)
        self.assertEqual(wizard.breakdown, "none")

    def test_form(self):
        with freeze_time("2026-04-20 10:00:00"):
            with Form(self.env["crm.kpi.report.wizard"]) as form:
                self.assertEqual(form.date_from, date(2025, 4, 1))
                self.assertEqual(form.date_to, date(2026, 3, 1))
                form.date_from = JAN
                form.date_to = APR
                form.breakdown = "segment"
                form.category_sales = True
            wizard = form.record
            _content, book = self._export(wizard)
        self.assertEqual(book.sheetnames, ["Summary", "Sales", "Goals", "Data"])
        # April, the running month on 20 April, says it is not over
        header = self._rows(book["Sales"])[0]
        self.assertEqual(header[-1], "Apr 2026 (to date)")
        self.assertEqual(header[-2], datetime(2026, 3, 1))
        rows = {row[:2]: list(row[2:]) for row in self._rows(book["Sales"])[1:]}
        # won revenue: L1 (A1, contact of A), L3 (A), L5 (C) in S1; L2 (B) in S2
        self._assert_values(rows["Won revenue", "S1"], [1000, 500, 3000, 0])
        self._assert_values(rows["Won revenue", "S2"], [2000, 0, 0, 0])

    def test_export_returns_a_download(self):
        wizard = self._wizard()
        action = wizard.action_export()
        self.assertEqual(
            action["url"],
            f"/web/content?model=crm.kpi.report.wizard&id={wizard.id}"
            "&field=report_file&filename_field=report_filename&download=true",
        )
        self.assertEqual(
            wizard.report_filename, "Strategic KPIs 2026-01 - 2026-04.xlsx"
        )
        content = base64.b64decode(wizard.report_file)
        self.assertTrue(content.startswith(b"PK"), "an .xlsx is a zip file")

    def test_bad_periods_are_refused(self):
        with self.assertRaisesRegex(ValidationError, "starts .* after it ends"):
            self._wizard(date_from=MAR, date_to=FEB)
        with self.assertRaisesRegex(ValidationError, "covers 37 months"):
            self._wizard(date_from=date(2023, 1, 1), date_to=date(2026, 1, 31))
        # 36 months is the longest period
        wizard = self._wizard(date_from=date(2023, 2, 1), date_to=date(2026, 1, 31))
        with self.assertRaisesRegex(ValidationError, "covers 37 months"):
            wizard.date_from = date(2023, 1, 31)

    def test_no_kpi_to_export(self):
        self.env["crm.kpi"].search([("category", "=", "adoption")]).action_archive()
        wizard = self._wizard(category_adoption=True)
        with self.assertRaisesRegex(UserError, "no active KPI to export"):
            wizard.action_export()

    def test_kpis_and_categories_choose_the_sheets(self):
        _content, book = self._export(
            kpi_ids=[(6, 0, self.kpi_won_revenue.ids)], category_satisfaction=True
        )
        self.assertEqual(
            book.sheetnames, ["Summary", "Sales", "Satisfaction", "Goals", "Data"]
        )
        summary = self._rows(book["Summary"])
        kpis = self.env["crm.kpi"].search([("category", "=", "satisfaction")])
        self.assertEqual(
            [row[0] for row in summary[1:] if row[0]],
            ["Won revenue", *kpis.mapped("name")],
        )

    # ------------------------------------------------------------ summary
    def test_summary_sheet(self):
        _content, book = self._export(date_to=MAR)
        self.assertEqual(book.sheetnames[0], "Summary")
        self.assertIn("Sales", book.sheetnames)
        self.assertIn("Customers", book.sheetnames)
        self.assertEqual(book.sheetnames[-2:], ["Goals", "Data"])
        sheet = book["Summary"]
        self.assertEqual(
            [cell.value for cell in sheet[1]],
            [
                "KPI",
                "Unit",
                datetime(2026, 3, 1),
                datetime(2026, 2, 1),
                "Change",
                "Goal",
                "Target",
                "Goal Status",
            ],
        )
        # won revenue: Mar 3000, Feb 500; one running goal (the draft is left out)
        row = self._find_row(sheet, "Won revenue")
        self.assertEqual(
            [cell.value for cell in sheet[row]],
            [
                "Won revenue",
                "Currency",
                3000,
                500,
                2500,
                "Revenue 4000",
                4000,
                "On track",
            ],
        )
        self.assertEqual(sheet.cell(row, 3).number_format, self._currency_format())
        self.assertEqual(sheet.cell(row, 7).number_format, self._currency_format())
        self.assertEqual(sheet.cell(row, 8).fill.fgColor.rgb, "FFC6EFCE")
        self.assertEqual(sheet.cell(row + 1, 6).value, None)
        # close rate: Mar 1/2, Feb 1/2; two running goals, one row each
        row = self._find_row(sheet, "Win rate")
        goal_rows = [
            [sheet.cell(r, c).value for c in range(1, 9)] for r in (row, row + 1)
        ]
        self.assertEqual(
            goal_rows,
            [
                ["Win rate", "Percent", 50, 50, 0, "Close 70", 70, "Off track"],
                [None, None, None, None, None, "Close 60", 60, "At risk"],
            ],
        )
        self.assertEqual(sheet.cell(row, 3).number_format, '0.0" %"')
        self.assertEqual(sheet.cell(row, 8).fill.fgColor.rgb, "FFFFC7CE")
        self.assertEqual(sheet.cell(row + 1, 8).fill.fgColor.rgb, "FFFFEB9C")
        # sales cycle: Mar 30 days, Feb 21
        row = self._find_row(sheet, "Sales-cycle length")
        self._assert_values(self._values(sheet, row, 3, 3), [30, 21, 9])
        self.assertEqual(sheet.cell(row, 3).number_format, "#,##0.0")

    def test_summary_empty_ratio_month(self):
        # close rate has no closed deal in April: the latest value is empty
        _content, book = self._export(kpi_ids=[(6, 0, self.kpi_close_rate.ids)])
        sheet = book["Summary"]
        row = self._find_row(sheet, "Win rate")
        self._assert_values(self._values(sheet, row, 3, 3), [None, 50, None])

    # ------------------------------------------------------------ categories
    def test_category_sheet_months_and_values(self):
        _content, book = self._export()
        sheet = book["Sales"]
        self.assertEqual([cell.value for cell in sheet[1]], ["KPI", *MONTHS])
        expected = {
            # code: ([Jan..Apr], number format)
            "won_revenue": ([3000, 500, 3000, 0], self._currency_format()),
            "close_rate": ([100, 50, 50, None], '0.0" %"'),
            "conversion_rate": ([66.67, 100, 0, None], '0.0" %"'),
            "won_count": ([2, 1, 1, 0], "#,##0"),
            "lead_count": ([3, 2, 2, 0], "#,##0"),
            "sales_cycle_days": ([25.5, 21, 30, None], "#,##0.0"),
            "activities_per_lead": ([1.5, 1.5, 0, None], "#,##0.00"),
            "open_deals": ([2, 2, 1, 1], "#,##0"),
        }
        Kpi = self.env["crm.kpi"]
        for code, (values, number_format) in expected.items():
            kpi = Kpi.search([("code", "=", code)])
            row = self._find_row(sheet, kpi.name)
            self._assert_values(self._values(sheet, row, 2), values, code)
            self.assertEqual(sheet.cell(row, 2).number_format, number_format, code)
        # one row per KPI of the category, in the catalogue's order
        self.assertEqual(
            [row[0] for row in self._rows(sheet)[1:]],
            Kpi.search([("category", "=", "sales")]).mapped("name"),
        )
        sheet = book["Customers"]
        row = self._find_row(sheet, "Customer retention rate")
        self._assert_values(self._values(sheet, row, 2), [None, 100, 50, 50])

    def test_team_breakdown_rows(self):
        _content, book = self._export(
            breakdown="team",
            kpi_ids=[
                (
                    6,
                    0,
                    (
                        self.kpi_won_revenue | self.kpi_close_rate | self.kpi_lead_count
                    ).ids,
                )
            ],
        )
        sheet = book["Sales"]
        self.assertEqual(
            [cell.value for cell in sheet[1]], ["KPI", "Sales Team", *MONTHS]
        )
        rows = {row[:2]: list(row[2:]) for row in self._rows(sheet)[1:]}
        expected = {
            # Jan L1 (T1) 1000 + L2 (T2) 2000, Feb L3 (T1), Mar L5 (T1)
            "won_revenue": {
                "Total": [3000, 500, 3000, 0],
                "T1": [1000, 500, 3000, 0],
                "T2": [2000, 0, 0, 0],
            },
            # Jan L1, L2 won; Feb L3 won, L4 lost (T1); Mar L5 won (T1), L6
            # lost (T2): the total is the ratio of the summed facts
            "close_rate": {
                "Total": [100, 50, 50, None],
                "T1": [100, 50, 100, None],
                "T2": [100, None, 0, None],
            },
            # Jan L3 (T1), L2 (T2), L8 (no team); Feb L4, L5; Mar L6, L7
            "lead_count": {
                "Total": [3, 2, 2, 0],
                "T1": [1, 2, 0, 0],
                "T2": [1, 0, 2, 0],
                "Not set": [1, 0, 0, 0],
            },
        }
        kpis = self.env["crm.kpi"].search([("code", "in", list(expected))])
        self.assertEqual(
            list(rows),
            [
                (kpi.name, label)
                for kpi in kpis  # in the catalogue's order
                for label in expected[kpi.code]
            ],
        )
        for kpi in kpis:
            for label, values in expected[kpi.code].items():
                self._assert_values(rows[kpi.name, label], values, (kpi.code, label))
        total = self._find_row(sheet, "Won revenue", "Total")
        self.assertTrue(sheet.cell(total, 3).font.b)
        self.assertEqual(sheet.row_dimensions[total + 1].outline_level, 1)
        self.assertEqual(
            sheet.cell(total + 1, 3).number_format, self._currency_format()
        )

    def test_campaign_breakdown_rows(self):
        _content, book = self._export(
            breakdown="campaign", kpi_ids=[(6, 0, self.kpi_won_revenue.ids)]
        )
        rows = {row[:2]: list(row[2:]) for row in self._rows(book["Sales"])[1:]}
        # L1 from campaign C1; the other deals have none
        self.assertEqual(
            rows,
            {
                ("Won revenue", "Total"): [3000, 500, 3000, 0],
                ("Won revenue", "C1"): [1000, 0, 0, 0],
                ("Won revenue", "Not set"): [2000, 500, 3000, 0],
            },
        )

    def test_line_chart_per_kpi(self):
        content, book = self._export(breakdown="team")
        sheet = book["Sales"]
        sales = self.env["crm.kpi"].search([("category", "=", "sales")])
        all_kpis = self.env["crm.kpi"].search([])
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            charts = sorted(
                n for n in names if re.match(r"xl/charts/chart\d+\.xml$", n)
            )
            self.assertEqual(len(charts), len(all_kpis), "one chart per KPI")
            # the Sales sheet (2nd) has a drawing holding one chart per KPI
            sheet_rels = archive.read("xl/worksheets/_rels/sheet2.xml.rels").decode()
            drawing = re.search(r'Target="../drawings/(drawing\d+\.xml)"', sheet_rels)
            self.assertTrue(drawing)
            drawing_rels = archive.read(
                f"xl/drawings/_rels/{drawing.group(1)}.rels"
            ).decode()
            sales_charts = re.findall(
                r'Target="../charts/(chart\d+\.xml)"', drawing_rels
            )
            self.assertEqual(len(sales_charts), len(sales))
            by_title = {}
            for chart in sales_charts:
                xml = archive.read(f"xl/charts/{chart}").decode()
                self.assertIn("<c:lineChart>", xml)
                title = re.search(r"<c:title>.*?<a:t>(.*?)</a:t>", xml, re.S)
                by_title[title.group(1)] = re.findall(r"<c:f>(.*?)</c:f>", xml)
        self.assertEqual(set(by_title), set(sales.mapped("name")))
        # won revenue: total, T1, T2 (name, months, values of each row)
        total = self._find_row(sheet, "Won revenue", "Total")
        self.assertEqual(
            by_title["Won revenue"],
            [
                ref
                for row in (total, total + 1, total + 2)
                for ref in (
                    f"Sales!$B${row}",
                    "Sales!$C$1:$F$1",
                    f"Sales!$C${row}:$F${row}",
                )
            ],
        )

    # ------------------------------------------------------------ goals, data
    def test_goals_sheet(self):
        _content, book = self._export()
        sheet = book["Goals"]
        rows = self._rows(sheet)
        self.assertEqual(
            rows[0],
            (
                "Goal",
                "KPI",
                "Owner",
                "State",
                "Start",
                "Deadline",
                "Baseline",
                "Target",
                "Current Value",
                "Progress",
                "Expected Progress",
                "Status",
            ),
        )
        # the draft goal is left out
        self.assertEqual(
            [row[0] for row in rows[1:]], ["Revenue 4000", "Close 70", "Close 60"]
        )
        self.assertEqual(
            rows[1],
            (
                "Revenue 4000",
                "Won revenue",
                self.user1.name,
                "Running",
                datetime(2026, 1, 1),
                datetime(2026, 6, 30),
                0,
                4000,
                2166.67,
                60,
                50,
                "On track",
            ),
        )
        self.assertIsNone(rows[2][8], "no current value yet")
        self.assertEqual(sheet["J2"].number_format, '0.0" %"')
        self.assertEqual(sheet["L3"].fill.fgColor.rgb, "FFFFC7CE")
        rules = [
            (str(ranges.sqref), rule.type)
            for ranges in sheet.conditional_formatting
            for rule in ranges.rules
        ]
        self.assertEqual(rules, [("J2:J4", "dataBar")])

    def test_data_sheet_holds_the_facts(self):
        _content, book = self._export()
        rows = self._rows(book["Data"])
        self.assertEqual(
            rows[0],
            (
                "Month",
                "KPI Code",
                "KPI",
                "Company",
                "Sales Team",
                "Salesperson",
                "Segment",
                "Campaign",
                "Source",
                "Medium",
                "Numerator",
                "Denominator",
                "Value",
            ),
        )
        facts = self.env["crm.kpi.value"].search(
            [
                ("company_id", "=", self.company.id),
                ("date", ">=", JAN),
                ("date", "<=", APR),
            ]
        )
        self.assertTrue(facts)
        self.assertEqual(len(rows) - 1, len(facts))
        won = [row for row in rows[1:] if row[1] == "won_revenue"]
        self.assertEqual(
            sorted((row[0], row[4], row[10]) for row in won),
            [
                (datetime(2026, 1, 1), "T1", 1000),
                (datetime(2026, 1, 1), "T2", 2000),
                (datetime(2026, 2, 1), "T1", 500),
                (datetime(2026, 3, 1), "T1", 3000),
            ],
        )
        self.assertEqual({row[3] for row in won}, {self.company.name})
        close_feb = [
            row
            for row in rows[1:]
            if row[1] == "close_rate" and row[0] == datetime(2026, 2, 1)
        ]
        self.assertEqual(sum(row[10] for row in close_feb), 1)
        self.assertEqual(sum(row[11] for row in close_feb), 2)

    def test_kpi_user_exports_the_figures_he_may_read(self):
        user = self.user1
        self.assertTrue(user.has_group("crm_strategic_kpi.group_kpi_user"))
        self.assertFalse(user.has_group("crm_strategic_kpi.group_kpi_manager"))
        wizard = (
            self.env["crm.kpi.report.wizard"]
            .with_user(user)
            .create({"date_from": JAN, "date_to": APR})
        )
        _content, book = self._export(wizard)
        self.assertTrue(wizard.with_user(user).read(["report_file"])[0]["report_file"])
        rows = self._rows(book["Data"])
        visible = (
            self.env["crm.kpi.value"]
            .with_user(user)
            .search_count([("company_id", "=", self.company.id), ("date", ">=", JAN)])
        )
        self.assertEqual(len(rows) - 1, visible)
        # only the figures of his team T1
        self.assertEqual({row[4] for row in rows[1:]}, {"T1"})
        sheet = book["Sales"]
        row = self._find_row(sheet, "Won revenue")
        self._assert_values(self._values(sheet, row, 2), [1000, 500, 3000, 0])

    # ------------------------------------------------------------ cron
    def test_cron_is_inactive(self):
        cron = self.env.ref("crm_strategic_kpi.ir_cron_send_kpi_report")
        self.assertFalse(cron.active)
        self.assertEqual(cron.code, "model._cron_send_monthly_report()")

    def test_cron_mails_the_report_to_kpi_managers(self):
        manager = new_test_user(
            self.env,
            login="kpi_report_manager",
            email="manager@example.com",
            groups="crm_strategic_kpi.group_kpi_manager",
        )
        with freeze_time("2026-05-03 06:00:00"):
            mails = self.env["crm.kpi.report.wizard"]._cron_send_monthly_report()
        mail = mails.filtered(lambda m: manager.partner_id in m.recipient_ids)
        self.assertEqual(len(mail), 1)
        self.assertNotIn(self.user1.partner_id, mails.recipient_ids)
        self.assertEqual(mail.state, "outgoing")
        self.assertIn("2025-05 to 2026-04", mail.subject)
        attachment = mail.attachment_ids
        self.assertEqual(len(attachment), 1)
        self.assertEqual(attachment.name, "Strategic KPIs 2025-05 - 2026-04.xlsx")
        self.assertEqual(attachment.mimetype, XLSX_MIMETYPE)
        self.assertFalse(self.env["crm.kpi.report.wizard"].search([]))
        book = openpyxl.load_workbook(io.BytesIO(attachment.raw))
        sheet = book["Summary"]
        # the last complete month (April) and March
        self.assertEqual(sheet["C1"].value, datetime(2026, 4, 1))
        row = self._find_row(sheet, "Won revenue")
        self._assert_values(self._values(sheet, row, 3, 3), [0, 3000, -3000])
        self.assertEqual(len(book["Sales"][1]), 1 + 12)
