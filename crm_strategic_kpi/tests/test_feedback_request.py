import re
from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import KpiCommon


@tagged("post_install", "-at_install")
class TestFeedbackPage(KpiCommon, HttpCase):
    """The public page behind the e-mail links."""

    def setUp(self):
        super().setUp()
        Request = self.env["crm.kpi.feedback.request"]
        self.req = Request.create(
            Request._prepare_request_values(self.l1, self.contact_a1)
        )
        self.token = self.req.sudo().token

    def answer(self, score, token=None):
        return self.url_open(f"/kpi/feedback/{token or self.token}/{score}")

    def test_token_is_random_and_long(self):
        other = self.env["crm.kpi.feedback.request"].create(
            self.env["crm.kpi.feedback.request"]._prepare_request_values(
                self.l2, self.cust_b
            )
        )
        self.assertNotEqual(other.sudo().token, self.token)
        # 24 random bytes = 192 bits, URL-safe base64
        self.assertGreaterEqual(len(self.token), 32)

    def test_valid_answer_then_correction(self):
        response = self.answer(9)
        self.assertEqual(response.status_code, 200)
        feedback = self.req.feedback_id
        self.assertEqual((feedback.score, feedback.category), (9, "promoter"))
        self.assertEqual(feedback.partner_id, self.contact_a1)
        self.assertEqual(feedback.commercial_partner_id, self.cust_a)
        self.assertEqual(
            (feedback.origin, feedback.res_model, feedback.res_id),
            ("lead", "crm.lead", self.l1.id),
        )
        self.assertEqual(feedback.user_id, self.user1)
        # the page names the company that asks, nothing about the customer
        self.assertIn(self.company.name, response.text)
        self.assertNotIn("Anna", response.text)
        self.assertNotIn("A GmbH", response.text)
        # a second click corrects the same answer
        self.answer(6)
        self.assertEqual(self.req.feedback_id, feedback)
        self.assertEqual((feedback.score, feedback.category), (6, "detractor"))
        self.assertEqual(
            self.env["crm.kpi.feedback"].search_count(
                [("res_model", "=", "crm.lead"), ("res_id", "=", self.l1.id)]
            ),
            1,
        )
        self.assertEqual(self.cust_a.nps_category, "detractor")

    def test_out_of_range_score_records_nothing(self):
        response = self.answer(11)
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self.req.feedback_id)

    def test_wrong_and_expired_token(self):
        response = self.answer(8, token="x" * 32)
        self.assertEqual(response.status_code, 404)
        self.assertIn("not valid or has expired", response.text)
        self.req.expires_at = fields.Datetime.now() - timedelta(minutes=1)
        response = self.answer(8)
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.req.feedback_id)
        self.assertNotIn(self.company.name, response.text)

    def test_comment_is_escaped(self):
        response = self.answer(10)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.text).group(1)
        comment = '<script>alert("x")</script> <b>Great</b> service'
        response = self.url_open(
            f"/kpi/feedback/{self.token}/comment",
            data={"comment": comment, "csrf_token": csrf},
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.req.feedback_id.comment, comment)
        page = self.answer(10).text
        self.assertNotIn("<script>alert", page)
        self.assertIn("&lt;script&gt;alert", page)

    def test_comment_without_answer_is_refused(self):
        response = self.url_open(
            f"/kpi/feedback/{self.token}/comment", data={"comment": "hi"}
        )
        # no csrf token either: refused before anything is stored
        self.assertIn(response.status_code, (400, 403, 404))
        self.assertFalse(self.req.feedback_id)


@tagged("post_install", "-at_install")
class TestFeedbackRequests(KpiCommon):
    def test_requests_after_won_deals(self):
        Request = self.env["crm.kpi.feedback.request"]
        # 7 days' delay, looking back 30 days more. On 03-11: L3 (A, won
        # 02-10) is due; L1 (01-15) is too old; L5 (C, won 03-05) not yet.
        with freeze_time("2026-03-11 12:00:00"):
            first = Request._cron_send_nps_requests()
        self.assertEqual((first.partner_id, first.res_id), (self.cust_a, self.l3.id))
        with freeze_time("2026-03-13 12:00:00"):
            sent = Request._cron_send_nps_requests()
        self.assertEqual(sent.partner_id, self.cust_c)
        self.assertEqual((sent.res_model, sent.res_id), ("crm.lead", self.l5.id))
        self.assertEqual(sent.expires_at, datetime(2026, 4, 12, 12, 0))
        mail = self.env["mail.mail"].search(
            [("model", "=", "crm.kpi.feedback.request"), ("res_id", "=", sent.id)]
        )
        self.assertEqual(len(mail), 1)
        links = re.findall(r"/kpi/feedback/[\w-]+/(\d+)", mail.body_html)
        self.assertEqual(links, [str(n) for n in range(11)])
        # once per deal, and at most once per customer and interval
        with freeze_time("2026-03-14 12:00:00"):
            self.assertFalse(Request._cron_send_nps_requests())
            later = self._deal(
                "C2",
                self.cust_c,
                self.team1,
                self.user1,
                datetime(2026, 3, 1, 12),
                won=datetime(2026, 3, 6, 12),
            )
            self.assertFalse(Request._send_requests(later, "nps"))
