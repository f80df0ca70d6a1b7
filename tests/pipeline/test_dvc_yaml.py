"""dvc.yaml is generated from the recipe registry (`audiopipe dvc-yaml`): the committed file is
current, and each recipe's stage depends on the code its jobs run and the params it reads."""

from __future__ import annotations

import yaml

from audiopipe.pipeline.dvc import dvc_yaml_text
from tests.conftest import REPO


def test_committed_dvc_yaml_is_current():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert (REPO / "dvc.yaml").read_text() == dvc_yaml_text(params), "dvc.yaml is stale: run `audiopipe dvc-yaml`"


def test_every_recipe_has_a_stage_with_its_code_params_and_tables():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert sorted(stages) == ["clarity", "sar_ssl", "sfi", "strf", "transcoder"]
    for name, st in stages.items():
        assert st["cmd"].startswith("snakemake ") and f"recipes=[{name}]" in st["cmd"]
        deps = set(st["deps"])
        assert {"Snakefile", f"workflow/rules/{name}.smk", "pyproject.toml", "src/audiopipe/io.py",
                f"src/audiopipe/recipes/{name}.py", "src/audiopipe/pipeline/tables.py"} <= deps
        assert all((REPO / d).exists() for d in deps), [d for d in deps if not (REPO / d).exists()]
        assert {"fixtures", "select", name} <= set(st["params"])
        assert all(next(iter(m)).endswith("table.json") for m in st["metrics"]) and st["metrics"]
        for group in ("outs", "metrics", "plots"):
            for out in st[group]:
                assert next(iter(out.values())) == {"cache": False, "persist": True}
    # what each recipe's jobs run, and nothing it does not
    assert "src/audiopipe/training/sar_ssl.py" in stages["sar_ssl"]["deps"]
    assert "src/audiopipe/training/sar_ssl.py" not in stages["clarity"]["deps"]
    assert "src/audiopipe/metrics/bss.py" in stages["sfi"]["deps"]
    assert "corpora.musdb18hq" in stages["sfi"]["params"] and "corpora.clarity" in stages["clarity"]["params"]
    assert {"corpora.wsj0", "corpora.dechorate", "corpora.ace", "corpora.locata"} <= set(stages["sar_ssl"]["params"])


def test_dvc_yaml_is_the_same_with_and_without_fixtures(tmp_path, monkeypatch):
    """A user's machine has no fixtures and no measured corpora: dvc.yaml must not list a table
    that only a plan of measured data writes (SAR-SSL's locata_demo), or `dvc repro` fails there on
    the missing output. Generated here with the fixtures, in a folder without them (no
    data/raw either), and with the fixtures' path gone: one text."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    with_fixtures = dvc_yaml_text(params)
    monkeypatch.chdir(tmp_path)  # no data/raw/<corpus> here
    assert dvc_yaml_text({**params, "fixtures": ""}) == with_fixtures
    assert dvc_yaml_text({**params, "fixtures": str(tmp_path / "nowhere")}) == with_fixtures
    stages = yaml.safe_load(with_fixtures)["stages"]
    outs = [next(iter(o)) for o in stages["sar_ssl"]["outs"]]
    assert "results/sar_ssl/demo/table.md" in outs
    assert not any("locata_demo" in o for o in outs)
    assert "corpora.locata" in stages["sar_ssl"]["params"]  # its params still make the stage rerun
