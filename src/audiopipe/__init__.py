"""audiopipe: reproducible audio machine-learning experiments as one Snakemake/DVC DAG."""

__version__ = "0.1.0"
