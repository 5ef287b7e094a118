"""Strawberry GraphQL layer: types, inputs, unions and the root schema; no business logic."""
