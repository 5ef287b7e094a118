"""Client imports: starting and reading them, the job that runs them, its batches and campaigns."""
