"""Sweep files: one `[sweep]` product or several `[[sweep]]`, every mistake named."""

from __future__ import annotations

from pathlib import Path

import pytest

from codebudget.config import load_sweep
from codebudget.errors import UserError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_one_table_is_the_product_of_its_lists(tmp_path: Path) -> None:
    configs = load_sweep(write(tmp_path, '[sweep]\nmodels = ["a", "b"]\nbenchmarks = ["humaneval", "mbpp"]\n'
                                         'prompt_styles = ["base", "instruct"]\n'))
    assert [(c.model, c.benchmark, c.prompt_style) for c in configs][:3] == [
        ("a", "humaneval", "base"), ("a", "humaneval", "instruct"), ("a", "mbpp", "base")]
    assert len(configs) == 8


def test_several_tables_run_in_order_with_their_own_settings(tmp_path: Path) -> None:
    configs = load_sweep(write(tmp_path, '[[sweep]]\nmodels = ["a"]\nbenchmarks = ["humaneval"]\n'
                                         '[[sweep]]\nmodels = ["a", "b"]\nbenchmarks = ["mbpp-plus"]\nlimit = 80\n'
                                         '[[sweep.decoding]]\nmax_new_tokens = 64\n'))
    assert [(c.model, c.benchmark, c.limit, c.decoding.max_new_tokens) for c in configs] == [
        ("a", "humaneval", None, 512), ("a", "mbpp-plus", 80, 64), ("b", "mbpp-plus", 80, 64)]


@pytest.mark.parametrize(("text", "named"), [
    ('[[sweep]]\nmodels = ["a"]\nbenchmarks = ["x"]\n[[sweep]]\nmodels = ["a"]\nbenchmarks = ["x"]\nlimit = 0\n',
     "sweep[1].limit"),
    ('[sweep]\nmodels = []\nbenchmarks = ["x"]\n', "sweep.models"),
    ('[sweep]\nmodels = ["a"]\nbenchmarks = ["x"]\nthreds = 2\n', "sweep.threds"),
    ('[runs]\nmodels = ["a"]\n', "no [sweep] table"),
    ('[sweep\n', "not valid TOML"),
])
def test_mistakes_name_the_file_and_field(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(UserError) as err:
        load_sweep(write(tmp_path, text))
    assert named in err.value.message and "sweep.toml" in err.value.message
