"""Every fact of the domain document is said somewhere a merchant can reach from the menu."""

from bot.content import DOMAIN_FACTS, known_facts, load_guide
from bot.engine.loader import step_targets
from bot.engine.model import FLOW_PREFIX


def reachable_facts(guide):
    facts, seen, todo = set(), set(), [("menu", guide.flows["menu"].start)]
    while todo:
        flow_id, step_id = todo.pop()
        if (flow_id, step_id) in seen:
            continue
        seen.add((flow_id, step_id))
        step = guide.flows[flow_id].steps[step_id]
        facts.update(step.facts)
        for target in step_targets(step):
            if target.startswith(FLOW_PREFIX):
                flow = target[len(FLOW_PREFIX):]
                todo.append((flow, guide.flows[flow].start))
            else:
                todo.append((flow_id, target))
    return facts


def test_domain_document_is_beside_the_checkout():
    assert DOMAIN_FACTS.is_file()
    assert len(known_facts()) >= 50


def test_every_fact_is_reachable_from_the_main_menu():
    guide = load_guide()
    missing = sorted(set(known_facts()) - reachable_facts(guide))
    assert not missing, f"facts no merchant can reach: {missing}"
