"""Client onboarding: the derived steps, the client's own steps, forms, billing, reminders."""
