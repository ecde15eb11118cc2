"""Commerce: products, SKUs and stock, orders and their lifecycle, and what platforms accept."""
