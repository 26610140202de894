"""Helpers shared by the test suite (tiny offline models and the like); no tests live here."""
