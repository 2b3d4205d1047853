// The Go round trip of scripts/sdk-check.sh: a caller of the client that openapi-generator makes into .sdk/go
// (git-ignored, made fresh each run), reached through the replace below; it needs nothing else.
module audit-log-service/sdk-check/go

go 1.23

require github.com/audit-log-service/client-go v0.0.0

replace github.com/audit-log-service/client-go => ../../.sdk/go
