import logging
from datetime import date, datetime

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import KpiCommon


@tagged("post_install", "-at_install")
class TestCustomerIntelligence(KpiCommon):
    """Lifecycle, NPS, RFM and forecast of the fixture's customers.

    Churn after 60 days, new for 20 days, at risk after 40 days. Won deals:
    A 2025-01-15, 2026-01-15, 2026-02-10; B 2026-01-20; C 2026-03-05.
    Latest NPS: A (via contact A1) 8 passive on 01-20, B 2 detractor on
    03-15, C 10 promoter on 02-04. D has one open opportunity.
    """

    def setUp(self):
        super().setUp()
        # start from a blank history (creating the fixture already classified
        # the customers as of the real today)
        self.env.cr.execute("DELETE FROM crm_kpi_lifecycle_event")
        self.env.cr.execute("UPDATE res_partner SET lifecycle_stage = NULL")
        self.env["res.partner"].invalidate_model(["lifecycle_stage"])

    def refresh(self, day):
        with freeze_time(day):
            self.env["res.partner"].browse()._kpi_refresh_customers()

    def events(self, partner):
        return [
            (e.from_stage, e.to_stage, e.reason, e.days_in_from_stage)
            for e in self.env["crm.kpi.lifecycle.event"].search(
                [("partner_id", "=", partner.id)], order="date, id"
            )
        ]

    def test_latest_nps(self):
        self.refresh("2026-03-20")
        # A's latest answer came from its contact A1
        self.assertEqual(
            (self.cust_a.nps_score, self.cust_a.nps_category, self.cust_a.nps_date),
            (8, "passive", date(2026, 1, 20)),
        )
        self.assertEqual(
            (self.cust_b.nps_score, self.cust_b.nps_category), (2, "detractor")
        )
        self.assertEqual(
            (self.cust_c.nps_score, self.cust_c.nps_category), (10, "promoter")
        )
        self.assertFalse(self.cust_d.nps_category)
        self.assertEqual(self.contact_a1.nps_score, 8)

    def test_lifecycle_stages_and_events(self):
        self.refresh("2026-03-20")
        # A: last deal 38 days ago, won back on 2026-01-15 (64 days ago, no
        # longer "reactivated") -> active. B: 59 days -> at risk (> 40).
        # C: first deal 15 days ago -> new. D: open opportunity.
        self.assertEqual(self.cust_a.lifecycle_stage, "active")
        self.assertEqual(self.cust_b.lifecycle_stage, "at_risk")
        self.assertEqual(self.cust_c.lifecycle_stage, "new_customer")
        self.assertEqual(self.cust_d.lifecycle_stage, "opportunity")
        self.assertEqual(self.contact_a1.lifecycle_stage, "active")
        self.refresh("2026-04-15")
        # A: 64 days > 60 -> churned; B: 85 -> churned; C: 41 -> at risk
        self.assertEqual(self.cust_a.lifecycle_stage, "churned")
        self.assertEqual(self.cust_b.lifecycle_stage, "churned")
        self.assertEqual(self.cust_c.lifecycle_stage, "at_risk")
        self.assertEqual(
            self.events(self.cust_a),
            [
                (False, "active", "recent_deal", 0),
                ("active", "churned", "no_recent_deal", 26),
            ],
        )
        self.assertEqual(
            self.events(self.cust_c),
            [
                (False, "new_customer", "first_deal", 0),
                ("new_customer", "at_risk", "no_recent_deal", 26),
            ],
        )
        self.assertEqual(
            self.events(self.cust_d), [(False, "opportunity", "open_opportunity", 0)]
        )
        # a refresh without change writes no event
        self.refresh("2026-04-15")
        self.assertEqual(len(self.events(self.cust_a)), 2)
        # each customer (and its contacts) says which rule set its stage
        self.assertEqual(
            (self.cust_a | self.contact_a1 | self.cust_c | self.cust_d).mapped(
                "lifecycle_reason"
            ),
            ["no_recent_deal", "no_recent_deal", "no_recent_deal", "open_opportunity"],
        )
        # the board's columns follow the lifecycle, not the alphabet
        groups = (
            self.env["res.partner"]
            .with_context(read_group_expand=True)
            .formatted_read_group(
                [("id", "in", self.partners.ids)], ["lifecycle_stage"]
            )
        )
        self.assertEqual(
            [g["lifecycle_stage"] for g in groups],
            [
                "prospect",
                "lead",
                "opportunity",
                "new_customer",
                "active",
                "at_risk",
                "churned",
                "reactivated",
                "advocate",
            ],
        )

    def test_reactivated_and_advocate(self):
        # A wins again on 2026-05-01, 80 days after its last deal (> 60)
        with freeze_time("2026-05-01 12:00:00"):
            self._deal(
                "A again",
                self.cust_a,
                self.team1,
                self.user1,
                datetime(2026, 4, 20, 12),
                won=datetime(2026, 5, 1, 12),
                revenue=100,
            )
        self.refresh("2026-05-10")
        self.assertEqual(self.cust_a.lifecycle_stage, "reactivated")
        # 25 days after coming back (> 20) A is an active customer again;
        # a promoter answer makes it an advocate
        with freeze_time("2026-05-20"):
            self.env["crm.kpi.feedback"].create(
                {
                    "partner_id": self.cust_a.id,
                    "kind": "nps",
                    "score": 10,
                    "date": date(2026, 5, 20),
                }
            )
        self.refresh("2026-05-26")
        self.assertEqual(self.cust_a.lifecycle_stage, "advocate")
        self.assertEqual(self.events(self.cust_a)[-1][2], "promoter")

    def test_rfm(self):
        self.refresh("2026-03-20")
        # 3 customers with deals in the last 24 months, NTILE(5) gives 1, 2, 3
        # recency:  B 01-20 -> 1, A 02-10 -> 2, C 03-05 -> 3
        # frequency: B 1, C 1 (B first by id), A 3 deals -> B 1, C 2, A 3
        # monetary: A 1900 -> 1, B 2000 -> 2, C 3000 -> 3
        self.assertEqual(self.cust_a.rfm_score, "231")
        self.assertEqual(self.cust_a.rfm_segment, "at_risk")  # R 2, F 3
        self.assertEqual(self.cust_b.rfm_score, "112")
        self.assertEqual(self.cust_b.rfm_segment, "lost")  # R 1, F 1
        self.assertEqual(self.cust_c.rfm_score, "323")
        self.assertEqual(self.cust_c.rfm_segment, "need_attention")  # R 3, F 2
        self.assertEqual(
            (
                self.cust_c.rfm_recency,
                self.cust_c.rfm_frequency,
                self.cust_c.rfm_monetary,
            ),
            (3, 2, 3),
        )
        self.assertFalse(self.cust_d.rfm_score)
        self.assertEqual(self.contact_a1.rfm_score, "231")

    def test_forecast(self):
        self.refresh("2026-03-20")
        # A: gaps 365 and 26 days, median 195.5 -> 196: 2026-02-10 + 196
        self.assertEqual(self.cust_a.next_purchase_date, date(2026, 8, 25))
        self.assertEqual(self.cust_a.churn_risk, "low")  # 38 days <= 195.5
        self.assertFalse(self.cust_b.next_purchase_date)  # a single deal
        self.assertEqual(self.cust_b.churn_risk, "high")  # at risk + detractor
        self.assertEqual(self.cust_c.churn_risk, "low")  # new customer
        self.assertFalse(self.cust_d.churn_risk)
        due = self.env["res.partner"].search(
            [
                ("id", "in", self.partners.ids),
                ("next_purchase_date", "<=", "2026-09-01"),
            ]
        )
        self.assertEqual(due, self.cust_a | self.contact_a1)
        with freeze_time("2026-09-01"):
            self.assertEqual(self.env["res.partner"]._cron_schedule_follow_ups(), 1)
            self.assertEqual(self.env["res.partner"]._cron_schedule_follow_ups(), 0)
        activity = self.cust_a.activity_ids
        self.assertEqual(activity.user_id, self.user1)

    def test_lifecycle_kpis(self):
        self.refresh("2026-03-20")
        self.refresh("2026-04-15")
        self.recompute(
            kpi_codes=[
                "lifecycle_active",
                "lifecycle_churned",
                "lifecycle_new_customer",
                "lifecycle_at_risk",
            ]
        )
        # end of March: A active, B at risk, C new; end of April: A and B
        # churned, C at risk
        self.assertMonths("lifecycle_active", {3: (1, 0, 1)})
        self.assertMonths("lifecycle_new_customer", {3: (1, 0, 1)})
        self.assertMonths("lifecycle_at_risk", {3: (1, 0, 1), 4: (1, 0, 1)})
        self.assertMonths("lifecycle_churned", {4: (2, 0, 2)})


@tagged("post_install", "-at_install")
class TestFeedbackImport(KpiCommon):
    def test_csv_import(self):
        Feedback = self.env["crm.kpi.feedback"].with_context(import_file=True)
        fields_ = ["partner_id", "kind", "score", "date", "comment"]
        result = Feedback.load(
            fields_,
            [
                ["C KG", "nps", "10", "2026-04-02", "Sehr gut"],
                ["B AG", "ces", "3", "2026-04-03", ""],
            ],
        )
        self.assertFalse(result["messages"])
        imported = Feedback.browse(result["ids"])
        self.assertEqual(imported.mapped("origin"), ["import", "import"])
        self.assertEqual(imported.mapped("score"), [10, 3])
        # an out-of-range score is refused with a message, nothing is clipped
        result = Feedback.load(fields_, [["C KG", "nps", "12", "2026-04-02", ""]])
        self.assertFalse(result["ids"])
        self.assertIn("between 0 and 10", result["messages"][0]["message"])


@tagged("post_install", "-at_install")
class TestSegments(KpiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["crm.kpi.segment"].search([]).write({"active": False})
        cls.cust_c.write({"kpi_segment_locked": True, "kpi_segment_id": cls.seg2.id})
        Segment = cls.env["crm.kpi.segment"]
        cls.german = Segment.create(
            {
                "name": "German",
                "sequence": 1,
                "rule": "[('country_id.code', '=', 'DE')]",
            }
        )
        cls.everyone = Segment.create({"name": "Everyone", "sequence": 2, "rule": "[]"})

    def test_first_matching_segment_wins(self):
        self.env["crm.kpi.segment"]._assign_segments()
        self.assertEqual(self.cust_a.kpi_segment_id, self.german)
        self.assertEqual(self.cust_b.kpi_segment_id, self.german)
        self.assertEqual(self.cust_c.kpi_segment_id, self.seg2)  # kept by hand
        self.assertEqual(self.cust_d.kpi_segment_id, self.everyone)  # no country
        self.assertFalse(self.contact_a1.kpi_segment_id)  # contacts roll up
        self.assertEqual(self.german.partner_count, 2)
        # nothing changes the second time
        self.assertEqual(self.env["crm.kpi.segment"]._assign_segments(), 0)

    def test_invalid_rule_refused_on_save(self):
        with self.assertRaises(ValidationError):
            self.german.rule = "[('no_such_field', '=', 1)]"
        with self.assertRaises(ValidationError):
            self.german.rule = "not a domain"

    def test_rule_broken_later_is_skipped(self):
        # a field used by the rule disappears: write the rule behind the
        # constraint's back, as an uninstalled module would leave it
        self.env.cr.execute(
            "UPDATE crm_kpi_segment SET rule = %s WHERE id = %s",
            ("[('x_removed_field', '=', 1)]", self.german.id),
        )
        self.german.invalidate_recordset(["rule"])
        with self.assertLogs(
            "odoo.addons.crm_strategic_kpi.models.crm_kpi_segment", logging.WARNING
        ):
            self.env["crm.kpi.segment"]._assign_segments()
        self.assertEqual(self.cust_a.kpi_segment_id, self.everyone)
        self.assertIn("skipped", self.german.message_ids[0].body)
