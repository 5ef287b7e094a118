"""arq worker: job functions and their WorkerSettings."""
