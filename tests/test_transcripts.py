"""The transcripts in docs/transcripts are what the guide says today: a content change shows up
as a readable diff of what merchants see."""

from bot.content import load_guide
from bot.i18n import SUPPORTED
from bot.transcripts import SCRIPTS, TRANSCRIPTS, all_transcripts


def test_one_transcript_per_flow_and_language_and_none_is_stale():
    expected = all_transcripts(load_guide())
    assert len(expected) == len(SCRIPTS) * len(SUPPORTED)
    assert sorted(p.name for p in TRANSCRIPTS.glob("*.md")) == sorted(p.name for p in expected)
    for path, text in expected.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: run python -m bot transcripts")
