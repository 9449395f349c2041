"""The Mermaid diagram beside each flow is the flow's own: regenerate with
``python -m bot diagrams`` after changing a flow."""

from bot.content import DIALOGS, load_guide
from bot.engine.diagram import mermaid


def test_every_flow_has_an_up_to_date_diagram():
    for flow in load_guide().flows.values():
        path = DIALOGS / "diagrams" / f"{flow.id}.mmd"
        assert path.is_file(), f"missing {path}: run python -m bot diagrams"
        assert path.read_text(encoding="utf-8") == mermaid(flow), (
            f"{path} is stale: run python -m bot diagrams"
        )


def test_a_diagram_shows_every_step_and_jump():
    menu = load_guide().flows["menu"]
    text = mermaid(menu)
    assert 'main{"main: choice"}' in text
    assert 'main -->|basic| flow_basic' in text
