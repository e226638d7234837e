"""``netanatomy inference``: every format in-process, the --window text, bad options."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netanatomy.cli.inference import parse_window
from netanatomy.cli.main import app
from netanatomy.errors import UsageError
from netanatomy.render.catalog import formats

pytest.importorskip("transformers")
runner = CliRunner()

MODEL = '''
import torch
from transformers import LlamaConfig, LlamaForCausalLM

def make():
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=50)
    with torch.device("meta"):
        return LlamaForCausalLM(config)
'''


@pytest.fixture()
def target(tmp_path: Path) -> str:
    path = tmp_path / "tiny_llm.py"
    path.write_text(MODEL)
    return f"{path}:make"


def run(*args: str) -> str:
    result = runner.invoke(app, ["inference", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_formats() -> None:
    assert formats("inference") == ("table", "json", "csv", "html")


def test_json_document(target: str) -> None:
    document = json.loads(run(target, "--prompt", "8", "--generate", "4", "--batch", "3",
                              "--kv-dtype", "fp8", "--device-type", "h200-sxm", "-f",
                              "json"))
    assert document["schema"] == "netanatomy.inference/1"
    kv = document["kv_cache"]
    # 2 layers × 2 (K, V) × 2 kv heads × head_dim 8 × 1 byte (fp8)
    assert kv["bytes_per_token"] == 2 * 2 * 2 * 8 * 1
    assert kv["bytes"] == kv["bytes_per_token"] * 3 * (8 + 4)
    assert document["decode"]["steps"] == 3
    assert document["fit"]["fits"] is True and document["device"]["key"] == "h200-sxm"
    assert "kv_cache" in document["conventions"]


def test_table_and_csv(target: str) -> None:
    text = run(target, "--prompt", "8", "--generate", "4", "--width", "150")
    assert "KV cache per token: 256 bytes" in text          # fp32: 2·2·2·8·4
    rows = list(csv.DictReader(io.StringIO(run(target, "--prompt", "8", "--generate", "4",
                                               "--window", "6", "-f", "csv"))))
    assert [row["tokens"] for row in rows] == ["6", "6"]     # context 12 capped at 6


def test_bad_options(target: str) -> None:
    result = runner.invoke(app, ["inference", target, "--kv-dtype", "fp5"])
    assert result.exit_code == 2 and "--kv-dtype" in result.output
    result = runner.invoke(app, ["inference", target, "--prompt", "0"])
    assert result.exit_code == 2 and "--prompt" in result.output
    result = runner.invoke(app, ["inference", target, "--device-type", "h200",
                                 "--prompt", "4", "--generate", "2"])
    assert result.exit_code == 2 and "ambiguous" in result.output


def test_parse_window() -> None:
    assert parse_window(None) is None
    assert parse_window("4096") == 4096
    assert parse_window("4096,none,8") == [4096, None, 8]
    with pytest.raises(UsageError, match="--window"):
        parse_window("-3")
