from odoo import models
from odoo.fields import Domain
from odoo.tools.safe_eval import safe_eval


class IrRule(models.Model):
    _inherit = "ir.rule"

    def _kpi_read_domain(self, model_name="crm.kpi.value"):
        """The read rules of ``model_name`` for the current user, combined as
        ``_compute_domain`` does but not optimised into subqueries: a domain
        that ``filtered_domain`` can test on a record not yet stored (what
        the user would be allowed to read of it)."""
        eval_context = self._eval_context()
        user_groups = self.env.user.all_group_ids
        global_domains, group_domains = [], []
        for rule in self._get_rules(model_name, mode="read").sudo():
            if rule.groups and not (rule.groups & user_groups):
                continue
            domain = Domain(safe_eval(rule.domain_force or "[]", eval_context))
            (group_domains if rule.groups else global_domains).append(domain)
        if group_domains:
            global_domains.append(Domain.OR(group_domains))
        return Domain.AND(global_domains)
