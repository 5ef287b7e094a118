"""Use cases: plain async functions taking the actor and typed input; no GraphQL here.

ARCHITECTURE.md ("Resolvers by domain") maps each module to its domain.
"""
