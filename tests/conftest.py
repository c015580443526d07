"""Shared test settings: hypothesis without deadlines (this machine is shared and noisy)."""

from hypothesis import settings

settings.register_profile("deeplinear", deadline=None, max_examples=40)
settings.load_profile("deeplinear")
