"""Reports over stored data (the response-time report)."""
