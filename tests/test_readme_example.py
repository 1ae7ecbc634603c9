"""README's "Adding a model" runs as written: its three files, trained, refused, restored and sampled."""

import json
import os
import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _example_files() -> dict[str, str]:
  text = README.read_text()
  section = text[text.index("## Adding a model"):]
  section = section[: section.index("\n## ", 1)]
  blocks = re.findall(r"```python\n(# (my_dae/\S+)\n.*?)```", section, flags=re.S)
  return {path: code for code, path in blocks}


def _run(args, cwd, timeout=600):
  env = {**os.environ, "PYTHONPATH": str(cwd)}
  return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_adding_a_model_example_runs_as_written(tmp_path):
  files = _example_files()
  assert sorted(files) == ["my_dae/config.py", "my_dae/main.py", "my_dae/model.py"]
  (tmp_path / "my_dae").mkdir()
  (tmp_path / "my_dae" / "__init__.py").write_text("")
  for path, code in files.items():
    (tmp_path / path).write_text(code)

  workdir = tmp_path / "runs" / "dae"
  bad = _run(["-m", "my_dae.main", f"--workdir={workdir}", "--config.train.learning_rate=0"], tmp_path)
  assert bad.returncode == 2, bad.stderr[-2000:]
  assert len(bad.stderr.strip().splitlines()) == 1 and "learning_rate" in bad.stderr
  assert not workdir.exists()  # refused before anything ran

  ok = _run(["-m", "my_dae.main", f"--workdir={workdir}", "--config.train.num_steps=40",
             "--config.train.steps_per_call=20"], tmp_path)
  assert ok.returncode == 0, ok.stderr[-3000:]
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records] == [20, 40] and records[-1]["bce"] < records[0]["bce"]

  check = _run(["-c", "import numpy as np, jax; import my_dae.model; from jaxgen import train, sample\n"
                f"nets, config, step = train.restore_models({str(workdir)!r})\n"
                "x = sample.draw_samples(nets, config, num=5, key=jax.random.key(0))\n"
                "print(step, x.shape, float(x.min()) >= 0, float(x.max()) <= 1)"], tmp_path)
  assert check.returncode == 0, check.stderr[-3000:]
  assert check.stdout.split() == ["40", "(5,", "8,", "8,", "1)", "True", "True"]
