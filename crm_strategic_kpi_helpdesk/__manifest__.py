{
    "name": "Strategic CRM KPIs: Helpdesk",
    "summary": "Time to resolution, first-contact resolution, CES and NPS on the "
    "tickets of OCA's helpdesk",
    "version": "19.0.1.0.0",
    "category": "Sales/CRM",
    "website": "https://github.com/crm-strategic-kpi/crm_strategic_kpi",
    "author": "crm_strategic_kpi developers",
    "maintainers": ["crm-strategic-kpi"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": ["crm_strategic_kpi", "helpdesk_mgmt", "resource"],
    "auto_install": True,
    "data": [
        "data/crm_kpi_data.xml",
        "data/ir_cron_data.xml",
        "views/helpdesk_ticket_views.xml",
        "views/helpdesk_ticket_team_views.xml",
        "views/crm_kpi_churn_analysis_views.xml",
    ],
    "post_init_hook": "post_init_hook",
}
