import subprocess
import sys
from datetime import date
from unittest.mock import patch

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import config

from ..models.customer_intelligence import CustomerIntelligence
from .common import KpiCommon


@tagged("post_install", "-at_install")
class TestSafeInput(KpiCommon):
    """Bad input gets a clear error and costs no more than itself."""

    def test_settings_have_upper_bounds(self):
        for vals in (
            {"kpi_churn_days": 2**31 - 1},
            {"kpi_nps_delay_days": 2**31 - 1},
            {"kpi_nps_interval_days": 2**31 - 1},
            {"kpi_feedback_validity_days": 366},
            {"kpi_data_retention_months": 0},
            {"kpi_data_retention_months": 121},
        ):
            with self.subTest(vals=vals), self.assertRaises(ValidationError):
                with self.env.cr.savepoint():
                    self.company.write(vals)
        self.company.write({"kpi_churn_days": 3660, "kpi_nps_delay_days": 365})
        self.assertEqual(self.company.kpi_churn_days, 3660)

    def _foreign_currency(self):
        foreign = self.env.ref("base.USD")
        if foreign == self.company.currency_id:
            foreign = self.env.ref("base.EUR")
        foreign.active = True
        self.env["res.currency.rate"].search(
            [("currency_id", "in", (foreign | self.company.currency_id).ids)]
        ).unlink()
        return foreign

    def test_cost_in_another_currency_is_converted_at_its_date(self):
        """1 company unit = 1.25 foreign units from 1 January: 100 foreign
        units on 10 January are 80.00 in the company currency."""
        foreign = self._foreign_currency()
        self.env["res.currency.rate"].create(
            {
                "currency_id": foreign.id,
                "name": date(2026, 1, 1),
                "rate": 1.25,
                "company_id": self.company.id,
            }
        )
        cost = self.env["crm.kpi.cost"].create(
            {
                "date": date(2026, 1, 10),
                "category": "marketing",
                "amount": 100,
                "currency_id": foreign.id,
            }
        )
        self.assertEqual(cost.amount, 80.0)
        self.assertEqual(cost.currency_id, self.company.currency_id)
        self.assertEqual(
            (cost.original_amount, cost.original_currency_id), (100, foreign)
        )
        # the same through the standard import, currency named by its code
        result = self.env["crm.kpi.cost"].load(
            ["date", "category", "amount", "currency_id"],
            [["2026-01-12", "sales", "50", foreign.name]],
        )
        self.assertFalse(result["messages"])
        imported = self.env["crm.kpi.cost"].browse(result["ids"])
        self.assertEqual((imported.amount, imported.original_amount), (40.0, 50.0))

    def test_cost_without_a_rate_is_refused(self):
        foreign = self._foreign_currency()
        with self.assertRaisesRegex(ValidationError, "No exchange rate"):
            self.env["crm.kpi.cost"].create(
                {"date": date(2026, 1, 10), "amount": 100, "currency_id": foreign.id}
            )
        with self.assertRaisesRegex(ValidationError, "counted, not paid"):
            self.env["crm.kpi.cost"].create(
                {
                    "date": date(2026, 1, 10),
                    "category": "visitors",
                    "amount": 100,
                    "currency_id": foreign.id,
                }
            )

    def _import_feedback(self, rows):
        refreshes = []
        original = CustomerIntelligence.refresh

        def counting_refresh(intelligence):
            refreshes.append(intelligence)
            return original(intelligence)

        with patch.object(CustomerIntelligence, "refresh", counting_refresh):
            result = (
                self.env["crm.kpi.feedback"]
                .with_context(import_file=True)
                .load(["partner_id", "kind", "score", "date"], rows)
            )
        return result, len(refreshes)

    def test_feedback_import_refreshes_customers_once(self):
        before = self.env["crm.kpi.feedback"].search_count([])
        result, refreshes = self._import_feedback(
            [
                ["A GmbH", "nps", "10", "2026-03-01"],
                ["B AG", "nps", "0", "2026-03-20"],
                ["C KG", "ces", "3", "2026-03-03"],
            ]
        )
        self.assertFalse(result["messages"])
        self.assertEqual(len(result["ids"]), 3)
        self.assertEqual(refreshes, 1)
        self.assertEqual(self.env["crm.kpi.feedback"].search_count([]), before + 3)
        # B's latest NPS is the imported 0 (after the 2 of 15 March)
        self.assertEqual(self.cust_b.nps_score, 0)

    def test_feedback_import_with_a_bad_row_names_it_and_imports_nothing(self):
        before = self.env["crm.kpi.feedback"].search_count([])
        rows = [["A GmbH", "nps", "10", "2026-03-01"]] * 40
        rows.insert(17, ["B AG", "nps", "11", "2026-03-02"])
        result, refreshes = self._import_feedback(rows)
        self.assertFalse(result["ids"])
        errors = [m for m in result["messages"] if m["type"] == "error"]
        self.assertIn("between 0 and 10; 11 was given", errors[-1]["message"])
        self.assertEqual(errors[-1]["rows"], {"from": 17, "to": 17})
        self.assertEqual(refreshes, 0)
        self.assertEqual(self.env["crm.kpi.feedback"].search_count([]), before)


@tagged("post_install", "-at_install")
class TestCommandLine(KpiCommon):
    def test_refused_recompute_is_one_line(self):
        """While another run holds the lock (this test's transaction), the
        command answers in one line and fails, without a traceback."""
        self.assertTrue(self.env["crm.kpi.run"]._take_recompute_lock())
        paths = config["addons_path"]
        paths = paths if isinstance(paths, str) else ",".join(paths)
        # the addons path comes before the command, which lives in an addon
        args = [sys.executable, "-m", "odoo", f"--addons-path={paths}"]
        args += ["kpi_recompute", "-d", self.env.cr.dbname]
        for option in ("db_host", "db_port", "db_user", "db_password"):
            if config.get(option):
                args += [f"--{option}", str(config[option])]
        args += ["--log-level", "critical"]
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=300, check=False
        )
        self.assertNotEqual(done.returncode, 0)
        self.assertNotIn("Traceback", done.stderr)
        self.assertEqual(
            done.stderr.strip().splitlines()[-1],
            "kpi_recompute: The strategic KPIs are being recomputed right now. "
            "Try again when that run has finished.",
        )
