"""Webhooks: partner endpoints, and outbox events delivered to them signed (Standard Webhooks)."""
