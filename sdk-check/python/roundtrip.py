"""The Python client a client team would generate (openapi-python-client), used as they would use it.

Run by scripts/sdk-check.sh against the live service, with the generated package on sys.path:
    python sdk-check/python/roundtrip.py <generated dir> <base url> <api key>

openapi-python-client does not implement `style: deepObject`: it sends the keys of an object query
parameter as they are (form style). So a Python caller writes the whole key, `details[account_number]`
(or the dotted `details.account_number`), in the generated `ListEventsDetails` map.
"""
import os
import sys
import time

generated, base_url, api_key = sys.argv[1:4]
sys.path.insert(0, generated)

from audit_log_service_client import AuthenticatedClient  # noqa: E402
from audit_log_service_client.api.events import create_event, create_event_batch, export_events, get_event, list_events  # noqa: E402
from audit_log_service_client.models import (  # noqa: E402
    BatchItemResultStatus,
    BatchResult,
    Error,
    EventBatch,
    EventInput,
    EventInputEventSpecificdetails,
    EventPage,
    ExportEventsFormat,
    IngestResult,
    IngestResultStatus,
    ListEventsDetails,
    ListEventsOrder,
)
from audit_log_service_client.types import Unset  # noqa: E402

run = f"py-{int(time.time() * 1000)}-{os.getpid()}"
event_type = f"SdkCheckPy{int(time.time() * 1000)}"

# an API key, as a sending system authenticates: AuthenticatedClient sends it as the bearer token
client = AuthenticatedClient(base_url=base_url, token=api_key, raise_on_unexpected_status=True)


def event(i: int) -> EventInput:
    details = EventInputEventSpecificdetails.from_dict({"account_number": run, "card": {"brand": "visa" if i == 0 else "mastercard"}})
    return EventInput(event_type=event_type, username="john_mayor", entitytype="customer_account", ip="192.168.0.1",
                      location="New York", description=f"SDK round trip {i}", event_id=f"{run}-{i}", event_specificdetails=details)


response = create_event.sync_detailed(client=client, body=event(0))
assert response.status_code == 201, f"createEvent answers 201, got {response.status_code} {response.content!r}"
result = response.parsed
assert isinstance(result, IngestResult) and result.status == IngestResultStatus.CREATED
created: list[str] = [result.id]
batch = create_event_batch.sync_detailed(client=client, body=EventBatch(events=[event(1), event(2)]))
assert batch.status_code == 200, f"createEventBatch answers 200, got {batch.status_code} {batch.content!r}"
assert isinstance(batch.parsed, BatchResult)
for item in batch.parsed.items:
    assert item.status == BatchItemResultStatus.CREATED and isinstance(item.id, str), f"a created batch item, got {item!r}"
    created.append(item.id)
assert len(created) == 3, "one event and a batch of two"

page = list_events.sync(client=client, event_type=[event_type])
assert isinstance(page, EventPage), f"listEvents by event_type, got {page!r}"
assert sorted(event.id for event in page.items) == sorted(created), "listEvents by event_type finds exactly the three"

first = list_events.sync(client=client, event_type=[event_type], limit=2, order=ListEventsOrder.ASC)
assert isinstance(first, EventPage)
assert len(first.items) == 2 and first.items[0].id == created[0], "first page: two, the single event (written first) first"
assert isinstance(first.next_cursor, str), "the first page has a next_cursor"
second = list_events.sync(client=client, event_type=[event_type], limit=2, order=ListEventsOrder.ASC, cursor=first.next_cursor)
assert isinstance(second, EventPage)
assert len(second.items) == 1, "second page: the third"
assert sorted(event.id for event in first.items + second.items) == sorted(created), "the two pages hold each event once"
assert second.next_cursor is None, "and no page after it"

details_filter = ListEventsDetails.from_dict({"details[account_number]": run, "details[card][brand]": "visa"})
by_details = list_events.sync(client=client, details=details_filter)
assert isinstance(by_details, EventPage), f"details filter, got {by_details!r}"
assert [event.id for event in by_details.items] == created[:1], "details[account_number] and details[card][brand] find the visa one"

one = get_event.sync(client=client, id=created[1])
assert one is not None and not isinstance(one, Error), f"getEvent, got {one!r}"
assert one.description == "SDK round trip 1"
assert not isinstance(one.event_specificdetails, Unset)
assert one.event_specificdetails.to_dict() == {"account_number": run, "card": {"brand": "mastercard"}}
missing = get_event.sync(client=client, id="0" * 24)
assert isinstance(missing, Error) and missing.code.value == "NOT_FOUND", f"a missing event is a typed Error, got {missing!r}"

exported = export_events.sync_detailed(client=client, event_type=[event_type], format_=ExportEventsFormat.CSV)
assert exported.status_code == 200
assert exported.headers["content-type"].startswith("text/csv")
rows = exported.content.decode("utf-8").strip().split("\r\n")
assert len(rows) == 4, f"a header row and three events, got {len(rows)} rows"
assert rows[0].startswith("id,seq,timestamp,tenant,submitted_by,event_type,")
for event_id in created:
    assert any(row.startswith(f"{event_id},") for row in rows[1:]), f"the export has {event_id}"

print("sdk-check: openapi-python-client round trip passed (API key, createEvent, createEventBatch, listEvents by event_type and details, next_cursor, getEvent, exportEvents csv)")
