"""Temporal value tracking (ProgressGym): value vectors of models, trackers and their scores. No Django."""
