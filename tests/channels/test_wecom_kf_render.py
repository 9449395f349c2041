"""Replies -> kf messages within kf's limits; sync_msg entries -> what the channel acts on."""

from bot.channels.wecom.kf.inbound import CUSTOMER, EVENT, menu_id, parse
from bot.channels.wecom.kf.outbound import render
from bot.engine.model import Choice, Reply

CHOICES = (Choice("basic", "基本认证"), Choice("factory", "工厂认证"))


def test_a_turn_with_a_question_is_one_menu_message():
    (message,) = render([Reply("已收到 营业执照.png"), Reply("请问您想做什么？", CHOICES)],
                        "menu.main")
    menu = message["msgmenu"]
    assert menu["head_content"] == "已收到 营业执照.png\n\n请问您想做什么？"
    assert [i["click"] for i in menu["list"]] == [
        {"id": "basic|menu.main", "content": "基本认证"},
        {"id": "factory|menu.main", "content": "工厂认证"}]


def test_long_texts_are_split_within_kf_limits_and_the_menu_comes_last():
    long = "\n".join(f"第 {n} 行：" + "说明文字" * 20 for n in range(40))
    messages = render([Reply(long), Reply("选一个：", CHOICES)], "menu.main")
    assert len(messages) >= 2 and messages[-1]["msgtype"] == "msgmenu"
    assert all(len(m["text"]["content"].encode()) <= 2048 for m in messages[:-1])
    assert len(messages[-1]["msgmenu"]["head_content"].encode()) <= 1024
    shown = "\n".join([*(m["text"]["content"] for m in messages[:-1]),
                       messages[-1]["msgmenu"]["head_content"]])
    assert all(f"第 {n} 行" in shown for n in range(40))  # nothing lost


def test_more_than_ten_choices_or_long_ids_and_labels_still_fit():
    many = tuple(Choice(f"c{n}", f"选项 {n}") for n in range(12))
    (message,) = render([Reply("选：", many)], "f.s", question=many)
    assert message["msgtype"] == "text" and "12. 选项 11" in message["text"]["content"]
    (menu,) = render([Reply("选：", (Choice("x" * 60, "长" * 80),))], "flow.step")
    item = menu["msgmenu"]["list"][0]["click"]
    assert item["id"] == "x" * 60 and len(item["content"].encode()) <= 128
    assert menu_id("rem:12:done", "flow.step") == "rem:12:done|flow.step"


OFFER = Reply("执照上读到：宁波海岸贸易有限公司", (Choice("ocr:use", "使用读到的信息"),
                                                  Choice("ocr:no", "不用")))


def test_only_the_question_carries_the_engine_numbers_and_offers_are_clicks():
    # the question's choices lead the menu (a typed 1 is its first choice, as the engine
    # reads it); the offer's choices follow as click items, never numbered
    (message,) = render([OFFER, Reply("请问您想做什么？", CHOICES)], "menu.main",
                        question=CHOICES)
    menu = message["msgmenu"]
    assert [i["click"]["content"] for i in menu["list"]] == [
        "基本认证", "工厂认证", "使用读到的信息", "不用"]
    assert "1." not in menu["head_content"]
    # a question too long for a menu is listed with the engine's numbers 1..n; the offer
    # alone is the menu, and no "1." of its own collides with the question's "1."
    many = tuple(Choice(f"c{n}", f"选项 {n}") for n in range(12))
    (message,) = render([OFFER, Reply("选：", many)], "f.s", question=many)
    head = message["msgmenu"]["head_content"]
    assert [line for line in head.splitlines() if line.startswith("1.")] == ["1. 选项 0"]
    assert "12. 选项 11" in head
    assert [i["click"]["content"] for i in message["msgmenu"]["list"]] == [
        "使用读到的信息", "不用"]
    # an offer the menu has no room for is shown in words, not numbers
    ten = tuple(Choice(f"c{n}", f"选项 {n}") for n in range(10))
    (message,) = render([OFFER, Reply("选：", ten)], "f.s", question=ten)
    head = message["msgmenu"]["head_content"]
    assert "• 使用读到的信息" in head and len(message["msgmenu"]["list"]) == 10
    assert [line for line in head.splitlines() if line[:1].isdigit()] == []


def test_sync_entries_parse_and_unknown_ones_do_not_fail():
    text = parse({"msgid": "m1", "open_kfid": "k", "external_userid": "u", "send_time": 5,
                  "origin": 3, "msgtype": "text",
                  "text": {"content": "基本认证", "menu_id": "basic|menu.main"}})
    assert text.origin == CUSTOMER and text.key == "kf:m1"
    assert text.choice() == ("basic", "menu.main")
    event = parse({"msgid": "m2", "origin": 4, "msgtype": "event", "send_time": 6,
                   "event": {"event_type": "enter_session", "open_kfid": "k",
                             "external_userid": "u", "welcome_code": "W",
                             "scene_param": "fair"}})
    assert (event.origin, event.event, event.welcome_code, event.scene) == (
        EVENT, "enter_session", "W", "fair")
    assert parse({"msgid": "m3", "external_userid": "u", "origin": 3,
                  "msgtype": "channels_shop_product"}).kind == "other"
    assert parse({"msgtype": "text", "text": {"content": "x"}}) is None  # no id, no merchant
    assert parse({"msgid": "m4", "external_userid": "u", "origin": "x"}) is None
    assert len(parse({"msgid": "m" * 300, "external_userid": "u"}).key) <= 120
