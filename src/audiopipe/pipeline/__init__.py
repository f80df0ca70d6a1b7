"""The orchestration core: recipe registry, doce-style plans and selectors, the workflow object the
Snakefile asks, result tables, code provenance, GPU slots and DVC stages (DESIGN.md)."""
