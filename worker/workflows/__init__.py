"""Workflows: definitions validated when saved, and the engine that runs them step by step."""
