"""Messaging: sending and reading messages, threads, and live delivery."""
