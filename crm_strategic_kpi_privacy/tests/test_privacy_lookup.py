from datetime import date

from odoo.tests import tagged

from odoo.addons.crm_strategic_kpi.tests.common import KpiCommon


@tagged("post_install", "-at_install")
class TestPrivacyLookup(KpiCommon):
    def test_customer_kpi_data_found_and_anonymised(self):
        """C KG gave two NPS answers (9 and 10 in February), was asked once
        and has lifecycle events: all appear in the lookup; anonymising the
        answers keeps their scores."""
        self.env["res.partner"].browse()._kpi_refresh_customers(date(2026, 4, 1))
        Request = self.env["crm.kpi.feedback.request"]
        request = Request.create(Request._prepare_request_values(self.l5, self.cust_c))
        events = self.env["crm.kpi.lifecycle.event"].search(
            [("partner_id", "=", self.cust_c.id)]
        )
        self.assertTrue(events)
        feedback = self.env["crm.kpi.feedback"].search(
            [("partner_id", "=", self.cust_c.id)]
        )
        self.assertEqual(sorted(feedback.mapped("score")), [9, 10])
        feedback[0].comment = "Frau Krause hat angerufen"

        wizard = self.env["privacy.lookup.wizard"].create(
            {"name": "C KG", "email": "c@example.com"}
        )
        wizard.action_lookup()
        lines = wizard.line_ids
        found = {(line.res_model, line.res_id) for line in lines}
        for records in (feedback, request, events):
            for record in records:
                self.assertIn((record._name, record.id), found)

        ours = lines.filtered("kpi_can_anonymise")
        ours.action_kpi_anonymise()
        self.assertFalse(request.exists())
        self.assertFalse(events.exists())
        self.assertTrue(all(feedback.mapped("is_anonymised")))
        self.assertFalse(feedback.partner_id)
        self.assertFalse(any(feedback.mapped("comment")))
        self.assertEqual(sorted(feedback.mapped("score")), [9, 10])
        self.assertIn("Anonymised", wizard.execution_details)
        # the NPS of February still counts both answers: 2 promoters of
        # the 3 February answers (9, 10 and B's 7) -> +66.67
        self.recompute(kpi_codes=["nps"], date_from=date(2026, 2, 1))
        num, den, value = self.month_value("nps", date(2026, 2, 1))
        self.assertEqual((num, den), (2, 3))
        self.assertAlmostEqual(value, 200 / 3, places=2)
