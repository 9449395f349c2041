"""The state machine: ``Guide.handle(state, event, today) -> Outcome``.

Pure: the guide is built once from the flows, the catalogs and the templates; a turn reads the
merchant's state and an event and returns a new state, the replies and the effects for the service
to persist. A refused input returns the state unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.engine import scan
from bot.engine.consistency import check_answer, collects_license, company_keys
from bot.engine.files import check_file, describe_accept, human_size
from bot.engine.intake import review_upload, upload_rule
from bot.engine.messages import Invalid, Msg, ngettext
from bot.engine.model import (
    FLOW_PREFIX,
    Choice,
    Choose,
    DocumentRef,
    DropDocuments,
    Effect,
    Expect,
    Files,
    Flow,
    Hello,
    Outcome,
    Reply,
    ScanRead,
    State,
    Step,
    StoreDocument,
    Text,
    Upload,
)
from bot.engine.render import Renderer
from bot.engine.rules import EFFECTS, RULES
from bot.engine.validators import VALIDATORS, check_when
from bot.i18n import SUPPORTED, negotiate, other_locale

MENU = "menu"
NOTED = "_noted"  # answers key: notes already given in this visit of a flow (said once each)
MAX_AUTO_STEPS = 50  # a guard; the loader already refuses loops through silent steps
COMMANDS = ("start", "back", "cancel", "status", "lang", "help")
DONE_WORDS = {"done", "finish", "finished", "ok", "完成", "好了", "好", "结束", "没有了"}
# A language's name alone switches to it, at any step (channels without a command menu)
LANG_WORDS = {"english": "en", "英文": "en", "英语": "en", "chinese": "zh_CN", "中文": "zh_CN",
              "简体中文": "zh_CN"}
NOT_USED = Msg("{count} more file(s) of this album were not used: the question they were sent "
               "for is already complete.")

KEEP, CHANGE, DONE = "keep", "change", "done"
HELP = Msg(
    "Commands:\n/start: main menu\n/back: previous question, to change an answer\n"
    "/cancel: stop this process (answers are kept)\n/status: where you are and "
    "what is missing\n/lang: 中文 ⇄ English\n/help: this list"
)


class Guide:
    def __init__(self, flows: Mapping[str, Flow], renderer: Renderer) -> None:
        self.flows = dict(flows)
        self.render = renderer
        self.company_keys = company_keys(self.flows)  # questions that ask for a company name

    def handle(self, state: State, event: Any, today: date) -> Outcome:
        turn = _Turn(self, state.copy(), today)
        turn.run(event)
        return Outcome(turn.s, turn.replies, self.expects(turn.s), turn.effects)

    def expects(self, state: State) -> Expect:
        step = self.current_step(state)
        if step is None:
            return Expect("none")
        ref = f"{state.flow}.{step.id}"
        choices = self.render.question_choices(state, step)
        if state.pending.get("offer"):
            return Expect("choice", ref, choices=choices)
        if step.kind == "text":
            return Expect("text", ref, validator=step.validator)
        if step.kind == "files":
            spec = step.files
            return Expect(
                "files", ref, accept=spec.rule.accept, max_bytes=spec.rule.max_bytes,
                max_files=spec.max_files, choices=choices,
            )
        return Expect("choice", ref, choices=choices)

    def current_step(self, state: State) -> Step | None:
        flow = self.flows.get(state.flow or "")
        step = flow.steps.get(state.step or "") if flow else None
        return step if step is not None and step.is_question else None


class _Turn:
    def __init__(self, guide: Guide, state: State, today: date) -> None:
        self.g = guide
        self.s = state
        self.today = today
        self.replies: list[Reply] = []
        self.effects: list[Effect] = []
        self.open_info: int | None = None  # index of the reply that info steps add to

    # -- helpers -------------------------------------------------------------------------
    def t(self, message: Msg | str) -> str:
        return self.g.render.text(self.s.locale, message)

    def say(self, *parts: Msg | str, choices: tuple[Choice, ...] = ()) -> None:
        text = "\n\n".join(self.t(p) for p in parts if p)
        self.replies.append(Reply(text, choices))

    def inform(self, reply: Reply) -> None:
        """Messages that follow each other in one turn with no question between them are one
        message: a turn is a few messages, not one per step."""
        if self.open_info is not None and self.open_info == len(self.replies) - 1:
            last = self.replies[-1]
            self.replies[-1] = Reply(f"{last.text}\n\n{reply.text}", reply.choices)
        else:
            self.replies.append(reply)
            self.open_info = len(self.replies) - 1

    def first_time(self, note: str) -> bool:
        """True the first time ``note`` is given in this visit of the flow, then False."""
        noted = self.s.answers.setdefault(NOTED, [])
        if note in noted:
            return False
        noted.append(note)
        return True

    def figures_note(self, step: Step) -> bool:
        return self.g.render.uses_figures(step) and self.first_time("figures")

    @property
    def flow(self) -> Flow:
        return self.g.flows[self.s.flow or MENU]

    @property
    def step(self) -> Step | None:
        return self.g.current_step(self.s)

    def docs(self, category: str) -> list[DocumentRef]:
        return [d for d in self.s.documents if d.category == category]

    # -- dispatch ------------------------------------------------------------------------
    def run(self, event: Any) -> None:
        if isinstance(event, ScanRead):
            scan.on_read(self, event)
        elif isinstance(event, Choose) and event.id.startswith(scan.PREFIX):
            scan.on_choice(self, event.id)
        elif isinstance(event, Text) and (picked := scan.typed_choice(self, event.text)):
            scan.on_choice(self, picked)
        elif isinstance(event, Text) and event.text.strip().startswith("/"):
            self.command(event.text.strip())
        elif isinstance(event, Text) and _word(event.text) in LANG_WORDS:
            self.command(f"/lang {LANG_WORDS[_word(event.text)]}")
        elif isinstance(event, Hello) or self.step is None:
            self.hello()
        elif isinstance(event, Text):
            self.on_text(self.step, event.text.strip())
        elif isinstance(event, Choose):
            if event.step and event.step != f"{self.s.flow}.{self.step.id}":
                self.say(Msg("That question was already answered; here is the current one."))
                self.ask(self.step)
            else:
                self.on_choice(self.step, event.id)
        elif isinstance(event, Upload):
            if event.step and event.step != f"{self.s.flow}.{self.step.id}":
                self.say(Msg("That file was sent for a question that is already complete; it "
                             "was not stored. Here is the current question."))
                self.ask(self.step)
            else:
                self.on_upload(self.step, event)
        elif isinstance(event, Files):
            if event.step and event.step != f"{self.s.flow}.{self.step.id}":
                self.say(Msg("These files were sent for a question that is already complete; "
                             "they were not stored. Here is the current question."))
                self.ask(self.step)
            else:
                self.on_files(self.step, event)

    def hello(self) -> None:
        if self.step is None:
            self.enter_flow(MENU)
        else:
            self.say(Msg("Welcome back! Let's continue where you stopped."))
            self.ask(self.step)

    def command(self, line: str) -> None:
        name, _, arg = line[1:].partition(" ")
        name = name.split("@", 1)[0].lower()  # Telegram appends @botname in groups
        if name in ("start", "menu"):
            self.enter_flow(MENU)
        elif name == "cancel":
            if self.s.flow not in (None, MENU):
                self.inform(Reply(self.t(Msg("Stopped “{flow}”. Your answers and files are "
                                             "kept.", flow=Msg(self.flow.title)))))
                self.to_menu()
            else:
                self.enter_flow(MENU)
        elif name == "back":
            self.back()
        elif name == "lang":
            wanted = negotiate(arg, default="") if arg.strip() else other_locale(self.s.locale)
            self.s.locale = wanted if wanted in SUPPORTED else other_locale(self.s.locale)
            self.say(Msg("Language switched to English."))
            self.resume()
        elif name == "status":
            self.replies.append(self.g.render.status(self.s, self.g.flows))
            self.resume()
        elif name == "repeat":  # the service answered a command itself; repeat the question
            self.resume()
        elif name == "help":
            self.say(HELP)
            self.resume()
        else:
            self.say(Msg("Unknown command {command}. Commands: /start /back /cancel /status "
                         "/lang /help", command="/" + name))
            self.resume()

    def resume(self) -> None:
        step = self.step
        if step is None:
            self.enter_flow(MENU)
        else:
            self.ask(step)

    def back(self) -> None:
        # A question the content no longer has (the flows changed since) is skipped.
        while self.s.stack:
            flow_id, _, step_id = self.s.stack.pop().partition(".")
            flow = self.g.flows.get(flow_id)
            step = flow.steps.get(step_id) if flow else None
            if step is not None and step.is_question:
                self.s.flow, self.s.step, self.s.pending = flow_id, step_id, {}
                self.offer_existing(step, back=True)
                self.ask(step)
                return
        self.say(Msg("There is no earlier question to go back to."))
        self.resume()

    # -- moving through the flow ---------------------------------------------------------
    def enter_flow(self, flow_id: str) -> None:
        self.s.flow = flow_id
        self.s.answers.pop(NOTED, None)
        if flow_id == MENU:
            self.s.stack.clear()
        self.enter(self.g.flows[flow_id].start)

    def to_menu(self) -> None:
        """Back at the main menu after a flow: its choices under the last message, not the
        whole greeting again."""
        menu = self.g.flows[MENU]
        start = menu.steps[menu.start]
        self.s.flow, self.s.step, self.s.pending = MENU, start.id, {}
        self.s.stack.clear()
        self.s.answers.pop(NOTED, None)
        self.inform(Reply(self.t(Msg("What would you like to do next?")),
                          self.g.render.choices(self.s.locale, start.options)))

    def goto(self, target: str) -> None:
        if target == FLOW_PREFIX + MENU and self.s.flow != MENU:
            self.to_menu()
        elif target.startswith(FLOW_PREFIX):
            self.enter_flow(target[len(FLOW_PREFIX):])
        else:
            self.enter(target)

    def advance(self, step: Step, target: str | None = None) -> None:
        """Leave the answered question ``step`` for ``target`` (or its next step)."""
        self.s.stack.append(f"{self.s.flow}.{step.id}")
        self.s.pending = {}
        self.goto(target or step.next or f"{FLOW_PREFIX}{MENU}")

    def enter(self, step_id: str) -> None:
        for _ in range(MAX_AUTO_STEPS):
            if self.s.flow == MENU and step_id == self.g.flows[MENU].start and self.replies:
                self.to_menu()  # back after a message of the menu's own: not the greeting again
                return
            step = self.flow.steps[step_id]
            self.s.step, self.s.pending = step.id, {}
            if step.effect:
                self.effects += EFFECTS[step.effect](self.s)
            if step.is_question and scan.skips(self, step):  # confirmed from the license
                self.s.stack.append(f"{self.s.flow}.{step.id}")
                target = step.next or f"{FLOW_PREFIX}{MENU}"
                if target.startswith(FLOW_PREFIX):
                    self.goto(target)
                    return
                step_id = target
                continue
            if step.is_question:
                self.offer_existing(step, back=False)
                self.ask(step)
                return
            if step.kind == "summary":
                self.replies.append(self.g.render.summary(self.s, step, self.today, self.g.flows))
            elif step.kind in ("info", "end"):
                self.inform(self.g.render.info(self.s.locale, step, self.figures_note(step)))
            if step.kind == "end":
                self.to_menu()
                return
            target = (
                dict(step.cases)[RULES[step.rule][1](self.s, self.g.render.figures).outcome]
                if step.kind == "branch" else step.next
            )
            if target.startswith(FLOW_PREFIX):
                self.goto(target)
                return
            step_id = target
        raise RuntimeError(f"flow {self.s.flow}: too many steps without a question")

    def answered(self, step: Step) -> bool:
        if step.kind == "text":
            return step.answer_key(self.s.flow) in self.s.answers
        return step.kind == "files" and bool(self.docs(step.files.category))

    def offer_existing(self, step: Step, *, back: bool) -> None:
        """Answers belong to the merchant: offer what we have instead of asking blindly."""
        if self.answered(step):
            self.s.pending = {"offer": True, "back": back}
        elif step.kind == "choice" and back:
            self.s.pending = {"back": True}

    def ask(self, step: Step) -> None:
        self.replies.append(self.g.render.question(self.s, self.flow, step, self.today,
                                                   figures_note=self.figures_note(step)))

    # -- answers -------------------------------------------------------------------------
    def on_text(self, step: Step, text: str) -> None:
        if self.s.pending.get("offer"):
            picked = self.g.render.match(self.s.locale, self.g.render.offer_options(step), text)
            if picked:
                self.on_choice(step, picked)
                return
            if step.kind == "files":
                self.say(Msg("Please choose Keep or Replace, or send a new file."))
                self.ask(step)
                return
        if step.kind == "text":
            self.answer_text(step, text)
        elif step.kind == "choice":
            option = self.g.render.match(self.s.locale, step.options, text)
            if option:
                self.on_choice(step, option)
            else:
                self.say(Msg("Please pick one of the options: tap a button or send its "
                             "number."))
                self.ask(step)
        elif _word(text) in DONE_WORDS or self.g.render.match(
            self.s.locale, self.g.render.question_options(self.s, step), text
        ) == DONE:
            self.on_choice(step, DONE)
        else:
            self.say(Msg("This step expects files, not text. Send a file, or choose Done "
                         "when you have sent them all."))
            self.ask(step)

    def answer_text(self, step: Step, text: str) -> None:
        validator = VALIDATORS[step.validator]
        key = step.answer_key(self.s.flow)
        try:
            value = validator.parse(text)
            check_when(value, validator.when, self.today)
            notes = check_answer(
                key, value, answers=self.s.answers, today=self.today,
                collects_license=collects_license(self.flow),
                company_keys=self.g.company_keys,
                file_names=[d.name for d in self.s.documents])
        except Invalid as refused:
            self.say(refused.message, scan.refused_note(key, text, self.s.answers))
            self.ask(step)
            return
        differs = scan.typed_note(key, value, self.s.answers)
        notes += (differs,) if differs else ()
        self.s.answers[key] = value
        if notes:
            self.say(*notes)
        self.advance(step)

    def on_choice(self, step: Step, choice_id: str) -> None:
        if self.s.pending.get("offer") and choice_id in (KEEP, CHANGE):
            if choice_id == KEEP:
                self.advance(step)
                return
            if step.kind == "files":
                self.effects.append(DropDocuments(step.files.category))
                self.s.documents = [
                    d for d in self.s.documents if d.category != step.files.category
                ]
            self.s.pending = {}
            self.ask(step)
            return
        if step.kind == "choice" and step.option(choice_id):
            option = step.option(choice_id)
            self.s.answers[step.answer_key(self.s.flow)] = option.id
            self.advance(step, option.next)
            return
        if step.kind == "files" and choice_id == DONE:
            self.files_done(step)
            return
        self.say(Msg("That choice belongs to an earlier question; here is the current one."))
        self.ask(step)

    def files_done(self, step: Step) -> None:
        have = len(self.docs(step.files.category))
        if have < step.files.min_files:
            more = step.files.min_files - have
            self.say(ngettext("I still need {count} more file here before we go on.",
                              "I still need {count} more files here before we go on.",
                              more, count=more))
            self.ask(step)
            return
        self.advance(step)

    def on_upload(self, step: Step, upload: Upload) -> None:
        if step.kind != "files":
            self.say(Msg("This step does not take files."))
            self.ask(step)
            return
        if self.full(step):
            self.say(_full_note(step))
            self.ask(step)
            return
        taken = self.take(step, upload)
        self.say(*taken.notes, choices=taken.offers)
        if taken.stored:
            self.after_files(step)

    def on_files(self, step: Step, files: Files) -> None:
        """A group of files: each checked and stored in order, then one answer."""
        if step.kind != "files":
            self.say(Msg("This step does not take files."))
            self.ask(step)
            return
        notes: list[Msg | str] = []
        offers: tuple[Choice, ...] = ()
        unused = 0
        for upload in files.uploads:
            if self.full(step):
                unused += 1
                continue
            taken = self.take(step, upload)
            notes += taken.notes
            offers += taken.offers
        if unused and not notes:
            notes.append(_full_note(step))
        elif unused:
            notes.append(Msg(NOT_USED.msgid, count=unused))
        self.say(*notes, choices=offers)
        self.after_files(step)

    def full(self, step: Step) -> bool:
        return len(self.docs(step.files.category)) >= step.files.max_files

    def after_files(self, step: Step) -> None:
        if self.full(step):
            self.advance(step)
        else:
            self.ask(step)

    def take(self, step: Step, upload: Upload) -> _Taken:
        """Check one file and store it (or say why not); the caller answers."""
        spec = step.files
        have = self.docs(spec.category)
        rule = upload_rule(spec)
        ready = upload.checked if upload.checked and upload.checked[0] == rule else None
        try:
            checked = ready[1] if ready else check_file(upload.data, upload.name, rule)
            if isinstance(checked, Msg):
                raise Invalid(checked)
        except Invalid as refused:
            return _Taken((refused.message, Msg(
                "This step accepts: {accepted}, up to {limit}.",
                accepted=describe_accept(spec.rule.accept),
                limit=human_size(spec.rule.max_bytes))))
        try:  # duplicates among the merchant's files; notes for photos and large scans
            review = review_upload(checked, upload, spec, self.s, self.g.company_keys,
                                   once=self.first_time)
        except Invalid as refused:
            return _Taken((refused.message,))
        ref = DocumentRef(checked.sha256, spec.category, upload.name, checked.kind, checked.size,
                          phash=checked.phash)
        self.s.documents.append(ref)
        self.effects.append(StoreDocument(ref, upload.data, f"{self.s.flow}.{step.id}"))
        self.s.pending = {}
        received = (Msg("Received {name} ({size}).", name=upload.name,
                        size=human_size(checked.size)) if spec.max_files == 1 else
                    Msg("Received {name} ({size}): {count} of at most {max}.", name=upload.name,
                        size=human_size(checked.size), count=len(have) + 1, max=spec.max_files))
        notes: list[Msg | str] = [received]
        notes += review.notes
        if upload.compressed and spec.rule.recommend_bytes:
            notes.append(Msg("Tip: the messenger compressed this photo. Sending the scan as a "
                             "file keeps it sharp."))
        offers = tuple(Choice(i, self.t(label)) for i, label in review.offers)
        return _Taken(tuple(notes), offers, stored=True)


@dataclass(frozen=True)
class _Taken:
    notes: tuple[Msg | str, ...]
    offers: tuple[Choice, ...] = ()
    stored: bool = False


def _full_note(step: Step) -> Msg:
    return ngettext("This step takes one file and you have sent it. Choose Done to go on.",
                    "This step takes at most {max} files and you have sent {max}. Choose Done "
                    "to go on.", step.files.max_files, max=step.files.max_files)


def _word(text: str) -> str:
    return text.strip().rstrip(".。!！").casefold()
