from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.base.tests.common import BaseCommon


@tagged("post_install", "-at_install")
class TestSurveyFeedback(BaseCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create(
            {"name": "Kunde GmbH", "is_company": True}
        )
        cls.survey = cls.env["survey.survey"].create({"title": "Weiterempfehlung"})
        cls.question = cls.env["survey.question"].create(
            {
                "survey_id": cls.survey.id,
                "title": "How likely are you to recommend us?",
                "question_type": "scale",
                "scale_min": 0,
                "scale_max": 10,
            }
        )
        cls.remark = cls.env["survey.question"].create(
            {"survey_id": cls.survey.id, "title": "Why?", "question_type": "text_box"}
        )
        cls.survey.kpi_feedback_kind = "nps"

    def _answer(self, partner, score, remark=None):
        user_input = self.survey._create_answer(partner=partner)
        user_input._save_lines(self.question, str(score))
        if remark:
            user_input._save_lines(self.remark, remark)
        user_input._mark_done()
        return user_input

    def test_completed_answer_becomes_feedback(self):
        user_input = self._answer(self.customer, 9, "Fast and friendly")
        feedback = self.env["crm.kpi.feedback"].search(
            [("res_model", "=", "survey.user_input"), ("res_id", "=", user_input.id)]
        )
        self.assertEqual(
            (feedback.kind, feedback.score, feedback.category, feedback.origin),
            ("nps", 9, "promoter", "survey"),
        )
        self.assertEqual(feedback.partner_id, self.customer)
        self.assertEqual(feedback.comment, "Fast and friendly")
        self.assertEqual(self.customer.nps_score, 9)

    def test_answer_without_partner_is_not_feedback(self):
        before = self.env["crm.kpi.feedback"].search_count([])
        self._answer(self.env["res.partner"], 3)
        self.assertEqual(self.env["crm.kpi.feedback"].search_count([]), before)

    def test_survey_needs_the_right_scale(self):
        with self.assertRaises(ValidationError):
            self.question.scale_min = 1
        ces = self.env["survey.survey"].create({"title": "Effort"})
        self.env["survey.question"].create(
            {
                "survey_id": ces.id,
                "title": "How easy was it?",
                "question_type": "scale",
                "scale_min": 1,
                "scale_max": 7,
            }
        )
        ces.kpi_feedback_kind = "ces"
        with self.assertRaises(ValidationError):
            ces.kpi_feedback_kind = "nps"
