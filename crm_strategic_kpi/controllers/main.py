from odoo import http
from odoo.http import request


class KpiFeedbackController(http.Controller):
    """The public pages behind the links of a feedback e-mail.

    Following a link (GET or HEAD, as mail security scanners do) only shows
    the question with the clicked score chosen: nothing is recorded until the
    customer sends the form (POST, with its CSRF token). The pages show
    nothing about the customer beyond the name of the company that asks; a
    wrong or expired token records nothing and says so politely.
    """

    def _render(self, feedback_request, template, **values):
        lang = feedback_request.partner_id.lang if feedback_request else None
        if lang:
            request.update_context(lang=lang)
        company = feedback_request.company_id if feedback_request else None
        status = values.pop("status", 200)
        return request.render(
            template,
            {
                "company_name": company.name if company else "",
                "feedback_request": feedback_request,
                "token": feedback_request.sudo().token if feedback_request else "",
                **values,
            },
            status=status,
        )

    def _render_question(self, feedback_request, score=None, status=200, **values):
        feedback = feedback_request.feedback_id
        if score is None and feedback:
            score = feedback.score
        return self._render(
            feedback_request,
            "crm_strategic_kpi.feedback_question",
            score=score,
            scores=feedback_request._get_scores(),
            comment=values.pop("comment", feedback.comment or ""),
            answered=bool(feedback),
            status=status,
            **values,
        )

    def _invalid(self, feedback_request=None):
        return self._render(
            feedback_request or request.env["crm.kpi.feedback.request"],
            "crm_strategic_kpi.feedback_invalid",
            status=404,
        )

    @http.route(
        "/kpi/feedback/<string:token>/<int:score>",
        type="http",
        auth="public",
        methods=["GET"],
        sitemap=False,
    )
    def kpi_feedback_question(self, token, score, **_kw):
        """The question, with the score of the clicked link chosen."""
        feedback_request = request.env["crm.kpi.feedback.request"]._get_by_token(token)
        if not feedback_request:
            return self._invalid()
        if not feedback_request._valid_score(score):
            return self._render_question(
                feedback_request, score=False, status=400, bad_score=True
            )
        return self._render_question(feedback_request, score=score)

    @http.route(
        "/kpi/feedback/<string:token>",
        type="http",
        auth="public",
        methods=["POST"],
        sitemap=False,
    )
    def kpi_feedback_answer(self, token, score=None, comment="", **_kw):
        """Record (or correct) the answer sent with the form."""
        feedback_request = request.env["crm.kpi.feedback.request"]._get_by_token(token)
        if not feedback_request:
            return self._invalid()
        try:
            score = int(score)
        except (TypeError, ValueError):
            score = None
        if score is None or not feedback_request._valid_score(score):
            return self._render_question(
                feedback_request,
                score=False,
                status=400,
                bad_score=True,
                comment=comment or "",
            )
        feedback_request._record_answer(score, comment)
        return self._render(
            feedback_request,
            "crm_strategic_kpi.feedback_thanks",
            score=score,
        )

    @http.route(
        "/kpi/feedback/<string:token>/opt-out",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        sitemap=False,
    )
    def kpi_feedback_opt_out(self, token, **_kw):
        """Ask (GET) and then record (POST) that the customer wants no more
        feedback requests. Works for expired links too."""
        feedback_request = request.env["crm.kpi.feedback.request"]._get_by_token(
            token, include_expired=True
        )
        if not feedback_request:
            return self._invalid()
        if request.httprequest.method != "POST":
            return self._render(
                feedback_request, "crm_strategic_kpi.feedback_opt_out_confirm"
            )
        feedback_request._record_opt_out()
        return self._render(feedback_request, "crm_strategic_kpi.feedback_opted_out")
