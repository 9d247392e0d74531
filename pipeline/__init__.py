"""Analytics pipeline for Dutch care budgets and care-cost ceilings."""

from pipeline.definitions import defs

__all__ = ["defs"]
