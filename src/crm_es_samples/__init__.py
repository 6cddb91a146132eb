"""Sample data, apart from the product: the demo company (`demo.py`, `demo_activity.py`)
and the large generated data set (`generate/`). They write through the product's public
interfaces only; the product never imports them."""
