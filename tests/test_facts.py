"""Every fact of the project's fact list is said somewhere a merchant can reach from the menu."""

import re

from bot.content import FACTS, known_facts, load_facts, load_guide
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


def test_the_fact_list_is_in_the_repository_in_both_languages():
    assert FACTS.is_file()
    data = load_facts()
    assert len(known_facts()) >= 50
    assert data["reviewed"] and data["source"]
    for fact_id, fact in data["facts"].items():
        assert re.fullmatch(r"F-[A-Z]+-\d+", fact_id)
        assert re.search(r"[\u4e00-\u9fff]", fact["zh"]), fact_id
        assert fact["en"].isascii() or re.search(r"[A-Za-z]{3}", fact["en"]), fact_id


def test_guidance_beyond_the_source_names_its_source_and_review_date():
    for guidance_id, entry in load_facts()["guidance"].items():
        assert re.fullmatch(r"G-[A-Z]+-\d+", guidance_id)
        assert entry["zh"] and entry["en"] and entry["source"], guidance_id
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["reviewed"]), guidance_id


def test_every_fact_is_reachable_from_the_main_menu():
    guide = load_guide()
    missing = sorted(set(known_facts()) - reachable_facts(guide))
    assert not missing, f"facts no merchant can reach: {missing}"
