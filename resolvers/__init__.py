"""Use cases: plain async functions taking the actor and typed input; no GraphQL here."""
