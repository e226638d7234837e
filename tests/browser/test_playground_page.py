"""The playground in a real browser, served on 127.0.0.1: it starts with the example spec,
typing a change updates the totals (as ``netanatomy.spec.analyze`` of the same text), an
invalid spec shows its located error at its line, and the server stops cleanly."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from netanatomy import spec
from netanatomy.playground import DEFAULT_EXAMPLE, PlaygroundServer, serve
from tests.browser.pages import node_ids, snapshot
from tests.test_playground import CONV, CONV_MACS, CONV_PARAMS


@pytest.fixture(scope="module")
def server() -> Iterator[PlaygroundServer]:
    with serve(port=0) as running:
        yield running


def total(view: Any, name: str) -> str:
    text: str = view.locator(f'#totals [data-total="{name}"]').inner_text()
    return text.strip()


def wait_for_total(view: Any, name: str, value: str) -> None:
    view.wait_for_function(
        """([name, value]) => {
            const cell = document.querySelector(`#totals [data-total="${name}"]`);
            return cell && cell.textContent.trim() === value;
        }""", arg=[name, value], timeout=10_000)


def test_serves_on_loopback_only(server: PlaygroundServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert server.server_address[0] == "127.0.0.1"


def test_starts_with_the_example_spec(open_page: Any, server: PlaygroundServer) -> None:
    view = open_page(server.url).ready()
    text = spec.example_path(DEFAULT_EXAMPLE).read_text(encoding="utf-8")
    assert view.input_value("#editor") == text
    expected = spec.analyze(text).totals
    wait_for_total(view, "params", str(expected.params))
    assert total(view, "macs") == str(expected.macs)
    assert node_ids(view, "module", "group")


def test_typing_a_change_updates_the_totals(open_page: Any, server: PlaygroundServer) -> None:
    view = open_page(server.url).ready()
    view.fill("#editor", CONV)
    wait_for_total(view, "params", str(CONV_PARAMS))
    assert total(view, "macs") == str(CONV_MACS)
    view.locator("#editor").press("Control+End")       # type one more layer, key by key
    view.keyboard.type("  - conv: {out: 2, k: 1}\n", delay=20)
    edited = view.input_value("#editor")
    assert edited == CONV + "  - conv: {out: 2, k: 1}\n"
    expected = spec.analyze(edited).totals
    assert expected.params == CONV_PARAMS + 4 * 2 + 2   # 1×1 conv 4 → 2 with bias
    wait_for_total(view, "params", str(expected.params))
    assert total(view, "macs") == str(expected.macs) == str(CONV_MACS + 6 * 6 * 2 * 4)
    assert view.locator("#error").is_hidden()


def test_set_gives_the_symbols_values(open_page: Any, server: PlaygroundServer) -> None:
    view = open_page(server.url).ready()
    view.fill("#editor", CONV.replace("[3, 8, 8]", "[C, 8, 8]"))
    wait_for_total(view, "params", "36*C + 4")         # 3*3*C*4 + 4, a formula
    view.fill("#set", "C=3")
    wait_for_total(view, "params", str(CONV_PARAMS))


def test_an_invalid_spec_shows_the_error_at_its_line(open_page: Any,
                                                     server: PlaygroundServer) -> None:
    view = open_page(server.url).ready()
    view.fill("#editor", CONV.replace("k: 3}", "k: 3, bogus: 1}"))
    view.wait_for_selector("#error:not([hidden])", timeout=10_000)
    error = view.locator("#error")
    assert error.get_attribute("data-line") == "3"
    assert "bogus" in error.inner_text()
    assert view.locator(".na-error-line").count() == 1
    snapshot(view, "playground-error")
    view.fill("#editor", CONV)                         # fixed: the error goes away
    view.wait_for_selector("#error", state="hidden", timeout=10_000)
    wait_for_total(view, "params", str(CONV_PARAMS))


def test_shutdown_closes_the_port(open_page: Any) -> None:
    running = serve(port=0)
    view = open_page(running.url).ready()
    assert view.locator("#editor").count() == 1
    running.shutdown()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", running.port), timeout=5).close()
