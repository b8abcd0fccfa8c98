from odoo import http
from odoo.http import request


class KpiFeedbackController(http.Controller):
    """The public page behind the links of a feedback e-mail.

    It shows nothing about the customer beyond the name of the company that
    asks; a wrong or expired token records nothing and says so politely.
    """

    def _render(self, feedback_request, template, **values):
        lang = feedback_request.partner_id.lang if feedback_request else None
        if lang:
            request.update_context(lang=lang)
        company = feedback_request.company_id if feedback_request else None
        return request.render(
            template,
            {
                "company_name": company.name if company else "",
                "feedback_request": feedback_request,
                **values,
            },
            status=values.pop("status", 200),
        )

    @http.route(
        "/kpi/feedback/<string:token>/<int:score>",
        type="http",
        auth="public",
        methods=["GET"],
        sitemap=False,
    )
    def kpi_feedback_answer(self, token, score, **_kw):
        feedback_request = request.env["crm.kpi.feedback.request"]._get_by_token(token)
        if not feedback_request:
            return self._render(
                feedback_request, "crm_strategic_kpi.feedback_invalid", status=404
            )
        if not feedback_request._valid_score(score):
            return self._render(
                feedback_request,
                "crm_strategic_kpi.feedback_bad_score",
                scores=feedback_request._get_scores(),
                status=400,
            )
        feedback = feedback_request._record_score(score)
        return self._render(
            feedback_request,
            "crm_strategic_kpi.feedback_thanks",
            score=score,
            comment=feedback.comment or "",
            scores=feedback_request._get_scores(),
        )

    @http.route(
        "/kpi/feedback/<string:token>/comment",
        type="http",
        auth="public",
        methods=["POST"],
        sitemap=False,
    )
    def kpi_feedback_comment(self, token, comment="", **_kw):
        feedback_request = request.env["crm.kpi.feedback.request"]._get_by_token(token)
        if not feedback_request or not feedback_request.feedback_id:
            return self._render(
                feedback_request, "crm_strategic_kpi.feedback_invalid", status=404
            )
        feedback_request._record_comment(comment)
        return self._render(
            feedback_request, "crm_strategic_kpi.feedback_comment_saved"
        )
