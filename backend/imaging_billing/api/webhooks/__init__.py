"""Webhook endpoints and deliveries (R-ARR-2 delivery decision)."""
