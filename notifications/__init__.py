"""Notification templates (Jinja2) and delivery channels; grows with the notifications issue."""
