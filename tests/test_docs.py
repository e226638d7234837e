"""The README's examples run: every ```python block, and every `netanatomy` command line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netanatomy.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = [README] + [path.read_text(encoding="utf-8")
                   for path in sorted((ROOT / "docs").rglob("*.md"))]


def blocks(language: str) -> list[str]:
    return [block for text in DOCS
            for block in re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)]


@pytest.fixture
def isolated_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kinds, rules and adapters a docs example registers (docs/adding-an-op.md) are
    dropped after it, so the other tests see only netanatomy's own."""
    from netanatomy.frontends.torch.aten import registry as adapters
    from netanatomy.ir import kinds
    from netanatomy.rules import registry as rules

    monkeypatch.setattr(kinds, "KINDS", dict(kinds.KINDS))
    monkeypatch.setattr(rules, "_FORMULAS", {k: dict(v) for k, v in rules._FORMULAS.items()})
    monkeypatch.setattr(rules, "_CONVENTIONS", dict(rules._CONVENTIONS))
    monkeypatch.setattr(rules, "_DIM_NAMES", dict(rules._DIM_NAMES))
    monkeypatch.setattr(adapters, "_ADAPTERS", dict(adapters._ADAPTERS))


@pytest.mark.parametrize("code", blocks("python"))
def test_python_examples_run(code: str, monkeypatch: pytest.MonkeyPatch,
                             isolated_registries: None) -> None:
    if "import transformers" in code:           # only that example needs it
        pytest.importorskip("transformers")
    assert "assert " in code, "a docs example must check what it shows"
    monkeypatch.chdir(ROOT)
    exec(compile(code, "docs", "exec"), {})


@pytest.mark.parametrize("text", blocks("yaml"))
def test_yaml_examples_analyse(text: str) -> None:
    from netanatomy import spec

    report = spec.analyze(text)
    assert report.totals.params
    if isinstance(report.totals.params, int):      # a numeric spec: torch counts it too
        model = spec.build(text)
        assert report.totals.params == sum(p.numel() for p in model.parameters())


COMMANDS = [line.split("#")[0].strip() for block in blocks("bash") for line in block.splitlines()
            if line.startswith("netanatomy ")]


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_examples_run(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    args = shlex.split(command)[1:]
    for flag in ("-o", "--plot"):
        if flag in args:
            args[args.index(flag) + 1] = str(tmp_path / args[args.index(flag) + 1])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip()


def test_readme_has_exactly_two_quick_start_commands() -> None:
    quick_start = README.split("## Quick start")[1].split("##")[0]
    commands = [line for block in re.findall(r"```bash\n(.*?)```", quick_start, re.DOTALL)
                for line in block.splitlines() if line.strip()]
    assert commands == [c for c in commands if c.startswith("bash scripts/")]
    assert len(commands) == 2


def test_every_spec_layer_type_is_documented() -> None:
    from netanatomy.frontends.spec.layers import LAYER_TYPES

    reference = (ROOT / "docs" / "spec-format.md").read_text(encoding="utf-8")
    for name in LAYER_TYPES:
        assert f"`{name}`" in reference, name


def test_readme_explain_excerpt_is_what_the_command_prints() -> None:
    excerpt = re.search(r"```text\n\$ netanatomy (.*?)\n(.*?)```", README, re.DOTALL)
    assert excerpt is not None
    result = CliRunner().invoke(app, shlex.split(excerpt.group(1)))
    assert result.exit_code == 0, result.output
    lines = excerpt.group(2).splitlines()
    assert result.output.splitlines()[0].startswith(lines[0].removesuffix("…)"))
    for line in lines[1:]:
        assert line in result.output.splitlines(), line
