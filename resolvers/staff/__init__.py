"""Staff tooling: audited reads of any provider's data and retries of stuck jobs."""
