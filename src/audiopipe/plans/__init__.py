"""doce-style plans, result tables, GPU slots and DVC helpers (the orchestration layer)."""

from audiopipe.plans.core import DEFAULT_ID, Plan, Setting, load_plans, parse_selector, select

__all__ = ["DEFAULT_ID", "Plan", "Setting", "load_plans", "parse_selector", "select"]
