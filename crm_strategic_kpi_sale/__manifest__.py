{
    "name": "Strategic CRM KPIs: Sales and Invoicing",
    "summary": "Customers, revenue, products and profit from confirmed sale "
    "orders or posted invoices",
    "version": "19.0.1.0.0",
    "category": "Sales/CRM",
    "website": "https://github.com/crm-strategic-kpi/crm_strategic_kpi",
    "author": "crm_strategic_kpi developers",
    "maintainers": ["crm-strategic-kpi"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": ["crm_strategic_kpi", "sale_crm"],
    "auto_install": True,
    "data": [
        "data/crm_kpi_data.xml",
        "views/res_partner_views.xml",
    ],
}
