"""docs/events/*.schema.json, what consumers of R17's events are given, are the ones the code makes."""

from billing.events import EventType
from local.event_schemas import OUT, rendered


def test_the_committed_event_schemas_are_the_generated_ones_run_make_openapi_if_not():
    want = rendered()
    assert sorted(want) == sorted(f"{t.value}.schema.json" for t in EventType)
    assert sorted(p.name for p in OUT.glob("*.schema.json")) == sorted(want)
    for name, text in want.items():
        assert (OUT / name).read_text() == text, name
