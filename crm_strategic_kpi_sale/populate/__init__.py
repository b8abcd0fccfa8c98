from .orders import populate_sales
