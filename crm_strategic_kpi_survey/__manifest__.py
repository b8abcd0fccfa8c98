{
    "name": "Strategic CRM KPIs: NPS and CES surveys",
    "summary": "Turn the answers of an NPS or CES survey into customer feedback for "
    "the strategic KPIs",
    "version": "19.0.1.0.0",
    "category": "Sales/CRM",
    "website": "https://github.com/crm-strategic-kpi/crm_strategic_kpi",
    "author": "crm_strategic_kpi developers",
    "maintainers": ["crm-strategic-kpi"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": ["crm_strategic_kpi", "survey"],
    "auto_install": True,
    "data": ["views/survey_survey_views.xml"],
}
