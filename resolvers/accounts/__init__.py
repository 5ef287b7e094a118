"""Accounts: sign-up and log-in, sessions, passwords, e-mail verification and change."""
