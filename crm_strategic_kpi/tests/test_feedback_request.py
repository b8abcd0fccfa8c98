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

    def show(self, score, token=None):
        return self.url_open(f"/kpi/feedback/{token or self.token}/{score}")

    def answer(self, score, comment="", token=None):
        """Open the link, then send the form as the customer's browser does."""
        page = self.show(score, token)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return self.url_open(
            f"/kpi/feedback/{token or self.token}",
            data={"score": score, "comment": comment, "csrf_token": csrf},
        )

    def test_token_is_random_and_long(self):
        other = self.env["crm.kpi.feedback.request"].create(
            self.env["crm.kpi.feedback.request"]._prepare_request_values(
                self.l2, self.cust_b
            )
        )
        self.assertNotEqual(other.sudo().token, self.token)
        # 24 random bytes = 192 bits, URL-safe base64
        self.assertGreaterEqual(len(self.token), 32)

    def test_following_a_link_records_nothing(self):
        """Mail scanners fetch every link (GET, HEAD): the page shows the
        question with the clicked score chosen and records nothing."""
        page = self.show(9)
        self.assertEqual(page.status_code, 200)
        self.assertIn('value="9" checked', page.text)
        head = self.opener.head(self.base_url() + f"/kpi/feedback/{self.token}/3")
        self.assertEqual(head.status_code, 200)
        for score in range(11):
            self.show(score)
        self.assertFalse(self.req.feedback_id)
        # nor does it overwrite a real answer
        self.answer(9)
        for score in range(11):
            self.show(score)
        self.assertEqual(self.req.feedback_id.score, 9)

    def test_a_post_without_the_form_token_is_refused(self):
        response = self.url_open(
            f"/kpi/feedback/{self.token}", data={"score": 3, "comment": "x"}
        )
        self.assertIn(response.status_code, (400, 403))
        self.assertFalse(self.req.feedback_id)

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
        # the thanks page offers the correction, with the answer chosen
        self.assertIn('value="9" checked', response.text)
        # a second answer corrects the same feedback
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
        self.assertEqual(self.show(11).status_code, 400)
        page = self.show(10)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        for score in ("11", "-1", "x", ""):
            response = self.url_open(
                f"/kpi/feedback/{self.token}", data={"score": score, "csrf_token": csrf}
            )
            self.assertEqual(response.status_code, 400)
        self.assertFalse(self.req.feedback_id)

    def test_wrong_and_expired_token(self):
        response = self.show(8, token="x" * 32)
        self.assertEqual(response.status_code, 404)
        self.assertIn("not valid or has expired", response.text)
        self.req.expires_at = fields.Datetime.now() - timedelta(minutes=1)
        response = self.show(8)
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.req.feedback_id)
        self.assertNotIn(self.company.name, response.text)

    def test_comment_is_escaped(self):
        comment = '<script>alert("x")</script> <b>Great</b> service'
        response = self.answer(10, comment=comment)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.req.feedback_id.comment, comment)
        page = self.show(10).text
        self.assertNotIn("<script>alert", page)
        self.assertIn("&lt;script&gt;alert", page)

    def test_opt_out_link(self):
        """The opt-out link asks first (GET records nothing), then records
        on the form's POST, without login and after the link expired."""
        self.req.expires_at = fields.Datetime.now() - timedelta(days=1)
        page = self.url_open(f"/kpi/feedback/{self.token}/opt-out")
        self.assertEqual(page.status_code, 200)
        self.assertFalse(self.contact_a1.kpi_feedback_opt_out)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        done = self.url_open(
            f"/kpi/feedback/{self.token}/opt-out", data={"csrf_token": csrf}
        )
        self.assertEqual(done.status_code, 200)
        self.assertTrue(self.contact_a1.kpi_feedback_opt_out)


@tagged("post_install", "-at_install")
class TestFeedbackRequests(KpiCommon):
    def ask(self, basis="legitimate_interest"):
        self.company.write(
            {"kpi_feedback_requests": True, "kpi_feedback_legal_basis": basis}
        )

    def test_requests_are_off_until_switched_on(self):
        cron = self.env.ref("crm_strategic_kpi.ir_cron_send_nps_requests")
        self.assertFalse(self.company.kpi_feedback_requests)
        self.assertFalse(cron.active)
        Request = self.env["crm.kpi.feedback.request"]
        with freeze_time("2026-03-11 12:00:00"):
            self.assertFalse(Request._cron_send_nps_requests())
        settings = self.env["res.config.settings"].create(
            {"kpi_feedback_requests": True}
        )
        settings.execute()
        self.assertTrue(cron.active)
        self.company.kpi_feedback_requests = False
        self.assertFalse(cron.active)

    def test_who_may_be_asked(self):
        """L3 (A), L5 (C), L2 (B) are won: with consent only those who
        agreed are asked; opt-outs (own or their company's), blacklisted
        and invalid addresses never are."""
        Request = self.env["crm.kpi.feedback.request"]
        deals = self.l3 | self.l5 | self.l2
        self.ask("consent")
        self.assertFalse(Request._get_askable(deals))
        self.cust_a.kpi_feedback_consent = True
        self.assertEqual(Request._get_askable(deals), self.l3)
        self.ask("legitimate_interest")
        self.assertEqual(Request._get_askable(deals), deals)
        self.cust_c.kpi_feedback_opt_out = True
        self.env["mail.blacklist"].create({"email": "b@example.com"})
        self.assertEqual(Request._get_askable(deals), self.l3)
        self.cust_a.email = "not an address"
        self.assertFalse(Request._get_askable(deals))
        # a contact of a company that opted out is not asked either
        self.cust_a.email = "a@example.com"
        self.cust_a.kpi_feedback_opt_out = True
        self.assertFalse(Request._get_askable(self.l1))

    def test_requests_after_won_deals(self):
        self.ask()
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
        self.assertIn(f"/kpi/feedback/{sent.sudo().token}/opt-out", mail.body_html)
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
