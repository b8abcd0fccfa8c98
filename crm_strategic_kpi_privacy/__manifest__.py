{
    "name": "Strategic CRM KPIs: privacy lookup",
    "summary": "Find and anonymise a customer's feedback, feedback requests and "
    "lifecycle history with Odoo's privacy lookup",
    "version": "19.0.1.0.0",
    "category": "Sales/CRM",
    "website": "https://github.com/crm-strategic-kpi/crm_strategic_kpi",
    "author": "crm_strategic_kpi developers",
    "maintainers": ["crm-strategic-kpi"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": ["crm_strategic_kpi", "privacy_lookup"],
    "auto_install": True,
    "data": ["views/privacy_lookup_wizard_views.xml"],
}
