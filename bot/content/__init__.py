"""Approved content: schema, loading, rendering and checks."""
