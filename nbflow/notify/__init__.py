"""Notifications: run and task events delivered by email and webhook."""
