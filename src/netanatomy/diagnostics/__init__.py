"""Diagnostics that run the model for real (CPU or GPU), never changing the user's model."""
