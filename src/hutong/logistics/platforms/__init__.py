"""Writing a shipment back to the shelf platform the order came from, one module each."""
