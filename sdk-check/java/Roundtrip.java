import audit.log.client.ApiClient;
import audit.log.client.ApiException;
import audit.log.client.ApiResponse;
import audit.log.client.api.EventsApi;
import audit.log.client.model.BatchItemResult;
import audit.log.client.model.BatchResult;
import audit.log.client.model.Event;
import audit.log.client.model.EventBatch;
import audit.log.client.model.EventInput;
import audit.log.client.model.EventPage;
import audit.log.client.model.IngestResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The Java client that openapi-generator makes from openapi/openapi.json (okhttp-gson, its default library;
 * sdk-check/java/openapi-generator.yaml), used as a client team would, unmodified. Compiled against the generated
 * classes and run by scripts/sdk-check.sh against the live service:
 *   java -cp <classpath> Roundtrip <base url> <api key>
 */
public class Roundtrip {
  public static void main(String[] args) throws Exception {
    if (args.length != 2) fail("usage: Roundtrip <base url> <api key>");
    ApiClient client = new ApiClient();
    client.setBasePath(args[0]);
    // the API key, on the document's one bearer scheme: sent as `Authorization: Bearer <key>`
    client.setBearerToken(args[1]);
    EventsApi api = new EventsApi(client);
    long now = System.currentTimeMillis();
    String run = "java-" + now + "-" + ProcessHandle.current().pid();
    String eventType = "SdkCheckJava" + now;

    try {
      ApiResponse<IngestResult> single = api.createEvent(event(eventType, run, 0)).executeWithHttpInfo();
      expect(single.getStatusCode() == 201, "createEvent answers 201, got " + single.getStatusCode());
      expect(single.getData().getStatus() == IngestResult.StatusEnum.CREATED, "createEvent: created");
      List<String> created = new ArrayList<>(List.of(single.getData().getId()));
      BatchResult batch = api.createEventBatch(new EventBatch().events(List.of(event(eventType, run, 1), event(eventType, run, 2)))).execute();
      for (BatchItemResult item : batch.getItems()) {
        expect(item.getStatus() == BatchItemResult.StatusEnum.CREATED && item.getId() != null, "a created batch item, got " + item);
        created.add(item.getId());
      }
      expect(created.size() == 3, "one event and a batch of two");

      EventPage all = api.listEvents().eventType(List.of(eventType)).execute();
      expect(ids(all.getItems()).equals(sorted(created)), "listEvents by event_type finds exactly the three, got " + ids(all.getItems()));

      EventPage first = api.listEvents().eventType(List.of(eventType)).limit(2).order("asc").execute();
      expect(first.getItems().size() == 2 && first.getItems().get(0).getId().equals(created.get(0)), "first page: two, the single event first");
      expect(first.getNextCursor() != null, "the first page has a next_cursor");
      EventPage second = api.listEvents().eventType(List.of(eventType)).limit(2).order("asc").cursor(first.getNextCursor()).execute();
      expect(second.getItems().size() == 1, "second page: the third");
      List<Event> both = new ArrayList<>(first.getItems());
      both.addAll(second.getItems());
      expect(ids(both).equals(sorted(created)), "the two pages hold each event once");
      expect(second.getNextCursor() == null, "and no page after it");

      // details_json: this library sends a deepObject map as `details={card.brand=visa}`, which the service refuses
      // (400), so a Java caller filters by details with the JSON parameter the document gives beside it
      EventPage byDetails = api.listEvents().detailsJson("{\"account_number\":\"" + run + "\",\"card.brand\":\"visa\"}").execute();
      expect(ids(byDetails.getItems()).equals(List.of(created.get(0))), "details_json finds the visa one, got " + ids(byDetails.getItems()));

      Event one = api.getEvent(created.get(1)).execute();
      expect("SDK round trip 1".equals(one.getDescription()), "getEvent: its description, got " + one.getDescription());
      expect(one.getEventSpecificdetails().equals(Map.of("account_number", run, "card", Map.of("brand", "mastercard"))),
          "getEvent: its details, got " + one.getEventSpecificdetails());
      try {
        api.getEvent("0".repeat(24)).execute();
        fail("a missing event: no exception");
      } catch (ApiException missing) {
        expect(missing.getCode() == 404 && missing.getResponseBody().contains("\"NOT_FOUND\""), "a missing event is a 404 NOT_FOUND");
      }

      ApiResponse<String> csv = api.exportEvents().eventType(List.of(eventType)).format("csv").executeWithHttpInfo();
      String contentType = csv.getHeaders().getOrDefault("content-type", List.of("")).get(0);
      expect(contentType.startsWith("text/csv"), "exportEvents: text/csv, got " + contentType);
      List<String> rows = Arrays.asList(csv.getData().trim().split("\r\n"));
      expect(rows.size() == 4 && rows.get(0).startsWith("id,seq,timestamp,tenant,submitted_by,event_type,"), "a header row and three events, got " + rows.size());
      for (String id : created) expect(rows.stream().anyMatch((row) -> row.startsWith(id + ",")), "the export has " + id);
    } catch (ApiException e) {
      fail("HTTP " + e.getCode() + ": " + e.getResponseBody());
    }
    System.out.println("sdk-check: openapi-generator Java round trip passed (API key, createEvent, createEventBatch, listEvents by event_type and details_json, next_cursor, getEvent, exportEvents csv)");
  }

  static EventInput event(String eventType, String run, int i) {
    return new EventInput()
        .eventType(eventType).username("john_mayor").entitytype("customer_account").ip("192.168.0.1").location("New York")
        .description("SDK round trip " + i).eventId(run + "-" + i)
        .eventSpecificdetails(Map.of("account_number", run, "card", Map.of("brand", i == 0 ? "visa" : "mastercard")));
  }

  static List<String> ids(List<Event> events) {
    return sorted(events.stream().map(Event::getId).toList());
  }

  static List<String> sorted(List<String> values) {
    return values.stream().sorted().toList();
  }

  static void expect(boolean ok, String message) {
    if (!ok) fail(message);
  }

  static void fail(String message) {
    System.err.println("sdk-check: Java round trip FAILED: " + message);
    System.exit(1);
  }
}
