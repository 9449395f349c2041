"""The data the engine works on: flows (declared in YAML), a merchant's state, events, replies."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from bot.engine.files import FileRule
from bot.engine.license import LicenseFields

QUESTION_KINDS = frozenset({"text", "choice", "files"})
STEP_KINDS = QUESTION_KINDS | {"info", "branch", "summary", "end"}
FLOW_PREFIX = "flow:"  # `next: flow:basic` enters another flow at its start


@dataclass(frozen=True)
class Option:
    id: str
    label: str  # msgid
    next: str | None


@dataclass(frozen=True)
class FileSpec:
    category: str
    label: str  # msgid: what the merchant sends, e.g. "business license"
    rule: FileRule
    min_files: int
    max_files: int


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    text: str | None = None  # msgid of the prompt or the message
    label: str | None = None  # msgid: a short name for the answer, used by /status
    next: str | None = None
    facts: tuple[str, ...] = ()
    menu_path: tuple[str, ...] = ()
    validator: str | None = None  # text steps
    answer: str | None = None  # key of the merchant's answer (shared across flows)
    options: tuple[Option, ...] = ()  # choice steps
    files: FileSpec | None = None  # files steps
    rule: str | None = None  # branch steps: a named rule
    cases: tuple[tuple[str, str], ...] = ()  # branch outcome -> step
    template: str | None = None  # summary steps
    effect: str | None = None  # a named effect applied when the step is reached

    @property
    def is_question(self) -> bool:
        return self.kind in QUESTION_KINDS

    def answer_key(self, flow_id: str) -> str:
        return self.answer or f"{flow_id}.{self.id}"

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True)
class Flow:
    id: str
    title: str  # msgid
    start: str
    steps: dict[str, Step]
    source: str  # file the flow came from, for error messages

    def questions(self) -> list[Step]:
        return [s for s in self.steps.values() if s.is_question]


@dataclass(frozen=True)
class DocumentRef:
    """A stored file as the engine sees it; its bytes live outside the state."""

    sha256: str
    category: str
    name: str
    kind: str
    size: int
    phash: str | None = None  # images: perceptual hash, to refuse the same picture twice


@dataclass
class State:
    """One merchant's conversation. Serialised to JSON by the store; documents and
    certifications come from their own tables."""

    locale: str
    flow: str | None = None
    step: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    stack: list[str] = field(default_factory=list)  # "flow.step" of earlier questions, for /back
    pending: dict[str, Any] = field(default_factory=dict)  # sub-state of the current question
    documents: list[DocumentRef] = field(default_factory=list)
    certifications: dict[str, dict[str, Any]] = field(default_factory=dict)

    def copy(self) -> State:
        """A copy the engine may change freely: what can be changed in place is copied
        deeply, the frozen document references are shared (``copy.deepcopy`` walked them all,
        a tenth of a /start turn)."""
        return State(self.locale, self.flow, self.step, copy.deepcopy(self.answers),
                     list(self.stack), copy.deepcopy(self.pending), list(self.documents),
                     copy.deepcopy(self.certifications))

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "step": self.step,
            "answers": self.answers,
            "stack": self.stack,
            "pending": self.pending,
        }


# Events: what a channel hands the service, and the service the engine.
@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Choose:
    id: str
    step: str | None = None  # "flow.step" the button belonged to, when the channel knows it


@dataclass(frozen=True)
class Upload:
    data: bytes
    name: str
    compressed: bool = False  # a messenger recompressed it (a Telegram photo)
    step: str | None = None  # "flow.step" the file was sent for, when the channel knows it
    # (rule, CheckedFile or the refusal's Msg): ``check_file`` already run for this rule,
    # elsewhere (the service runs it in a process pool); the engine checks only without one.
    checked: Any = None


@dataclass(frozen=True)
class Files:
    """Several files sent together (a Telegram album): stored in order, answered once. Files
    the question cannot take (beyond its limit, or on a step that takes none) are refused."""

    uploads: tuple[Upload, ...]
    step: str | None = None  # "flow.step" the group was sent for, when the channel knows it


@dataclass(frozen=True)
class Hello:
    """A conversation opens (a new chat, a channel reconnecting): greet or repeat the question."""


@dataclass(frozen=True)
class ScanRead:
    """What was read from the license scan with this content hash (``fields`` None: nothing
    could be read). Sent by the license reader once its read finished, long after the upload."""

    sha256: str
    fields: LicenseFields | None


Event = Text | Choose | Upload | Files | Hello | ScanRead


@dataclass(frozen=True)
class Choice:
    id: str
    label: str


@dataclass(frozen=True)
class Attachment:
    path: str
    name: str


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[Choice, ...] = ()
    document: Attachment | None = None


@dataclass(frozen=True)
class Expect:
    kind: str  # text | choice | files | none
    step: str | None = None  # "flow.step"
    validator: str | None = None
    accept: tuple[str, ...] | None = None
    max_bytes: int | None = None
    max_files: int | None = None
    # The current question's choices, in order: a typed number n means choices[n - 1] (the
    # engine decides that); channels without buttons show these numbers. Not in to_json():
    # the console's JSON contract carries choices in the replies.
    choices: tuple[Choice, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "step": self.step,
            "validator": self.validator,
            "accept": list(self.accept) if self.accept is not None else None,
            "max_bytes": self.max_bytes,
            "max_files": self.max_files,
        }


# Effects: what the service must persist besides the state itself.
@dataclass(frozen=True)
class StoreDocument:
    ref: DocumentRef
    data: bytes
    step: str


@dataclass(frozen=True)
class DropDocuments:
    category: str


@dataclass(frozen=True)
class RecordCertification:
    kind: str  # basic | factory | trade | strength_merchant
    status: str
    reason: str | None


Effect = StoreDocument | DropDocuments | RecordCertification


@dataclass
class Outcome:
    state: State
    replies: list[Reply]
    expects: Expect
    effects: list[Effect] = field(default_factory=list)
