from . import test_sale_order_kpis
from . import test_invoice_kpis
from . import test_populate_orders
