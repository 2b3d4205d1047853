// The Go client that openapi-generator makes from openapi/openapi.json (sdk-check/go/openapi-generator.yaml),
// used as a client team would, unmodified. Run by scripts/sdk-check.sh against the live service:
//
//	go-roundtrip <base url> <api key>
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	auditlog "github.com/audit-log-service/client-go"
)

func main() {
	if len(os.Args) != 3 {
		fail("usage: go-roundtrip <base url> <api key>")
	}
	baseURL, apiKey := os.Args[1], os.Args[2]
	cfg := auditlog.NewConfiguration()
	cfg.Servers = auditlog.ServerConfigurations{{URL: baseURL}}
	api := auditlog.NewAPIClient(cfg).EventsAPI
	// the API key, as the document's bearer scheme: the generated client sends it as `Authorization: Bearer <key>`
	ctx := context.WithValue(context.Background(), auditlog.ContextAccessToken, apiKey)
	now := time.Now().UnixMilli()
	run := fmt.Sprintf("go-%d-%d", now, os.Getpid())
	eventType := fmt.Sprintf("SdkCheckGo%d", now)
	event := func(i int) auditlog.EventInput {
		input := auditlog.NewEventInput(eventType, "john_mayor", "customer_account", "192.168.0.1", "New York", fmt.Sprintf("SDK round trip %d", i))
		input.SetEventId(fmt.Sprintf("%s-%d", run, i))
		brand := "mastercard"
		if i == 0 {
			brand = "visa"
		}
		input.SetEventSpecificdetails(map[string]interface{}{"account_number": run, "card": map[string]interface{}{"brand": brand}})
		return *input
	}

	single, res, err := api.CreateEvent(ctx).EventInput(event(0)).Execute()
	check(err, res, "createEvent")
	expect(res.StatusCode == 201 && single.GetStatus() == "created", "createEvent answers 201 created, got %d %s", res.StatusCode, single.GetStatus())
	created := []string{single.GetId()}
	batch, res, err := api.CreateEventBatch(ctx).EventBatch(*auditlog.NewEventBatch([]auditlog.EventInput{event(1), event(2)})).Execute()
	check(err, res, "createEventBatch")
	for _, item := range batch.GetItems() {
		expect(item.GetStatus() == "created" && item.GetId() != "", "a created batch item, got %+v", item)
		created = append(created, item.GetId())
	}
	expect(len(created) == 3, "one event and a batch of two, got %v", created)

	all, res, err := api.ListEvents(ctx).EventType([]string{eventType}).Execute()
	check(err, res, "listEvents")
	expect(reflect.DeepEqual(ids(all.GetItems()), sorted(created)), "listEvents by event_type finds exactly the three, got %v", ids(all.GetItems()))

	first, res, err := api.ListEvents(ctx).EventType([]string{eventType}).Limit(2).Order("asc").Execute()
	check(err, res, "listEvents page 1")
	expect(len(first.GetItems()) == 2 && first.GetItems()[0].GetId() == created[0], "first page: two, the single event first")
	// next_cursor is a NullableString: Get() is nil when the page says null
	cursor := first.NextCursor.Get()
	expect(cursor != nil && *cursor != "", "the first page has a next_cursor")
	second, res, err := api.ListEvents(ctx).EventType([]string{eventType}).Limit(2).Order("asc").Cursor(*cursor).Execute()
	check(err, res, "listEvents page 2")
	expect(len(second.GetItems()) == 1, "second page: the third")
	expect(reflect.DeepEqual(ids(append(first.GetItems(), second.GetItems()...)), sorted(created)), "the two pages hold each event once")
	expect(second.NextCursor.Get() == nil, "and no page after it")

	// the deepObject as documented: details[account_number]=…&details[card.brand]=visa
	byDetails, res, err := api.ListEvents(ctx).Details(map[string]string{"account_number": run, "card.brand": "visa"}).Execute()
	check(err, res, "listEvents by details")
	expect(reflect.DeepEqual(ids(byDetails.GetItems()), created[:1]), "details filter finds the visa one, got %v", ids(byDetails.GetItems()))
	// and the same as one JSON parameter (details_json), for clients without deepObject
	byJSON, res, err := api.ListEvents(ctx).DetailsJson(fmt.Sprintf(`{"account_number":%q,"card":{"brand":"visa"}}`, run)).Execute()
	check(err, res, "listEvents by details_json")
	expect(reflect.DeepEqual(ids(byJSON.GetItems()), created[:1]), "details_json finds the visa one, got %v", ids(byJSON.GetItems()))

	one, res, err := api.GetEvent(ctx, created[1]).Execute()
	check(err, res, "getEvent")
	expect(one.GetDescription() == "SDK round trip 1", "getEvent: its description, got %q", one.GetDescription())
	details, _ := json.Marshal(one.GetEventSpecificdetails())
	want, _ := json.Marshal(map[string]interface{}{"account_number": run, "card": map[string]interface{}{"brand": "mastercard"}})
	expect(string(details) == string(want), "getEvent: its details, got %s", details)
	_, res, err = api.GetEvent(ctx, strings.Repeat("0", 24)).Execute()
	expect(err != nil && res != nil && res.StatusCode == 404, "a missing event is a 404")
	if apiErr, ok := err.(*auditlog.GenericOpenAPIError); ok {
		model, typed := apiErr.Model().(auditlog.Error)
		expect(typed && model.GetCode() == "NOT_FOUND", "the 404 is a typed Error with code NOT_FOUND, got %+v", apiErr.Model())
	} else {
		fail(fmt.Sprintf("a missing event: a GenericOpenAPIError, got %T", err))
	}

	csv, res, err := api.ExportEvents(ctx).EventType([]string{eventType}).Format("csv").Execute()
	check(err, res, "exportEvents")
	expect(strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv"), "exportEvents: text/csv")
	rows := strings.Split(strings.TrimSpace(csv), "\r\n")
	expect(len(rows) == 4 && strings.HasPrefix(rows[0], "id,seq,timestamp,tenant,submitted_by,event_type,"), "a header row and three events, got %d rows", len(rows))
	for _, id := range created {
		found := false
		for _, row := range rows[1:] {
			found = found || strings.HasPrefix(row, id+",")
		}
		expect(found, "the export has %s", id)
	}

	fmt.Println("sdk-check: openapi-generator Go round trip passed (API key, CreateEvent, CreateEventBatch, ListEvents by event_type and details, next_cursor, GetEvent, ExportEvents csv)")
}

func ids(events []auditlog.Event) []string {
	out := make([]string, 0, len(events))
	for _, event := range events {
		out = append(out, event.GetId())
	}
	return sorted(out)
}

func sorted(values []string) []string {
	out := append([]string(nil), values...)
	sort.Strings(out)
	return out
}

// check fails the round trip on an error, with the answer's status and body when there was one.
func check(err error, res *http.Response, what string) {
	if err == nil {
		return
	}
	status := 0
	if res != nil {
		status = res.StatusCode
	}
	body := ""
	if apiErr, ok := err.(*auditlog.GenericOpenAPIError); ok {
		body = string(apiErr.Body())
	}
	fail(fmt.Sprintf("%s: %v (status %d) %s", what, err, status, body))
}

func expect(ok bool, format string, args ...interface{}) {
	if !ok {
		fail(fmt.Sprintf(format, args...))
	}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "sdk-check: Go round trip FAILED:", message)
	os.Exit(1)
}
