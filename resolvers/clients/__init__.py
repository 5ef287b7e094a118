"""A provider's client list: adding, checking, reading, editing, live events, invitations, acceptance."""
