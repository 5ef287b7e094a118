"""Appointments: scheduling, confirming and cancelling, and reading calendars."""
