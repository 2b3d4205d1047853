#!/usr/bin/env bash
# The independent verifier in Go (verifier-go/, golang.org/x/mod/sumdb/note and sumdb/tlog only) against the real
# service: log in as the bootstrap admin, make a monitor API key, keep the log's verifier key (GET /integrity/keys
# ?tenant=), ingest events and keep their receipts, verify and save a first checkpoint; ingest more, then verify
# with the monitor key: the checkpoint's signature, the inclusion of every receipt's leaf hash, and the consistency
# of the saved checkpoint with the current one, all from /logs/{tenant}/ (C2SP tlog-tiles). A real witness
# (litewitness, scripts/litewitness.sh) cosigns the checkpoints: both verifications wait for its cosignature and
# require it (-witness VKEY -quorum 1). Then the verifier must refuse: another log key, a witness key that did
# not cosign, and a receipt whose leaf hash was changed.
# Before the service: gofmt, go vet and go test (cosignature_test.go: a cosignature litewitness made verifies).
# The service and its database are set up as scripts/sdk-check.sh does (scripts/service-under-test.sh).
#   bash scripts/go-verifier.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local PATH="/usr/local/go/bin:$PATH"

if [[ -z ${GO_VERIFIER_UNDER_DATABASE:-} ]]; then
  # built before any database: a verifier that does not build needs no service to fail
  mkdir -p .tools/bin
  (cd verifier-go && test -z "$(gofmt -l .)" && go vet ./... && go test ./... && go build -o ../.tools/bin/verifier-go .)
  GO_VERIFIER_UNDER_DATABASE=1 exec npx tsx scripts/with-database.ts bash scripts/go-verifier.sh "$@"
fi

NAME=goverifier
# the witness first: the service is configured with its vkey, and it learns the log's key once the service has one
WITNESS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/go-verifier-witness-XXXXXX")
stop_witness () { bash scripts/litewitness.sh stop "$WITNESS_DIR"; rm -rf "$WITNESS_DIR"; }
trap stop_witness EXIT
# a port the system picks (litewitness takes no port 0); installs litewitness if .ci/run has not
WITNESS_ADDR=127.0.0.1:$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { process.stdout.write(String(s.address().port)); s.close() })')
WITNESS_VKEY=$(bash scripts/litewitness.sh start "$WITNESS_DIR" "$WITNESS_ADDR" go-verifier.witness.example/w1)
echo "go-verifier: litewitness at $WITNESS_ADDR, its vkey: $WITNESS_VKEY"
SERVICE_ENV=(CHECKPOINT_INTERVAL_MS=200 AUDIT_LOG_ORIGIN=go-verifier.audit-log.example
  WITNESSES="[{\"url\":\"http://$WITNESS_ADDR\",\"vkey\":\"$WITNESS_VKEY\"}]" WITNESS_ALLOW_HOSTS=127.0.0.1 WITNESS_QUORUM=1
  WITNESS_RETRY_BASE_MS=50 WITNESS_RETRY_MAX_MS=500)
# service-under-test.sh's exit trap stops the service, then the witness
ON_EXIT=stop_witness
# shellcheck source=scripts/service-under-test.sh
source scripts/service-under-test.sh
VERIFIER=$PWD/.tools/bin/verifier-go
OUT="$WORK_DIR/go-verifier"
mkdir -p "$OUT"

json () { node -e 'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>{const v=JSON.parse(s);process.stdout.write(String((new Function("v","return "+process.argv[1]))(v)))})' "$1"; }
call () { local method=$1 path=$2 token=$3 body=${4:-}
  curl -fsS -X "$method" "$BASE_URL$path" -H "authorization: Bearer $token" ${body:+-H 'content-type: application/json' --data "$body"}; }

TOKEN=$(curl -fsS -X POST "$BASE_URL/login" -H 'content-type: application/json' \
  --data "{\"username\":\"$ADMIN_USERNAME\",\"password\":\"$ADMIN_PASSWORD\"}" | json 'v.access_token')
MONITOR=$(call POST /tenant/api-keys "$TOKEN" '{"name":"go verifier","roles":["monitor"]}' | json 'v.key')
# kept once, outside the service, as an auditor keeps it
VKEY=$(curl -fsS "$BASE_URL/integrity/keys?tenant=$NAME" | json 'v.keys.find((k) => k.current).verifier_key')
echo "go-verifier: the log's verifier key: $VKEY"
# the witness trusts that key for the log's origin (witnessctl); until then it answered 403 and the service retried
bash scripts/litewitness.sh add-log "$WITNESS_DIR" "${VKEY%%+*}" "$VKEY"

# ingest COUNT events; their receipts ({seq, leaf_hash}) appended to $OUT/receipts.json
ingest () {
  local count=$1 first=$2
  local body; body=$(node -e 'const [n, f] = process.argv.slice(1).map(Number); process.stdout.write(JSON.stringify({ events: Array.from({ length: n }, (_, i) => ({
    event_type: "AccountCreated", username: `user-${f + i}`, entitytype: "customer_account", ip: "192.0.2.1", location: "go verifier",
    description: "an event for the Go verifier", event_id: `go-${f + i}`, event_specificdetails: { n: f + i } })) }))' "$count" "$first")
  call POST /events/batch "$TOKEN" "$body" > "$OUT/answer.json"
  node -e 'const fs = require("node:fs"); const [answer, file] = process.argv.slice(1)
    const items = JSON.parse(fs.readFileSync(answer, "utf8")).items
    if (items.some((item) => typeof item.seq !== "number")) throw new Error("an event without a seq: " + JSON.stringify(items.find((item) => typeof item.seq !== "number")))
    const kept = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : []
    fs.writeFileSync(file, JSON.stringify([...kept, ...items.map((item) => ({ seq: item.seq, leaf_hash: item.receipt?.leaf_hash ?? item.hash }))]))' \
    "$OUT/answer.json" "$OUT/receipts.json"
}
# waits (the service waits up to a few intervals per call) for a checkpoint covering the newest receipt
covered () {
  local size; size=$(json 'Math.max(...v.map((r) => r.seq))' < "$OUT/receipts.json")
  for _ in $(seq 1 20); do
    if call GET "/integrity/checkpoint?min_tree_size=$size" "$MONITOR" > /dev/null 2>&1; then return 0; fi
  done
  echo "go-verifier: no checkpoint covers seq $size"; return 1
}
# waits until the service serves a checkpoint covering the newest receipt with the witness's cosignature
cosigned () {
  local size began=$SECONDS; size=$(json 'Math.max(...v.map((r) => r.seq))' < "$OUT/receipts.json")
  for _ in $(seq 1 300); do
    if [[ $(call GET "/integrity/checkpoint?min_tree_size=$size" "$MONITOR" 2> /dev/null | json 'v.witnessed' 2> /dev/null) == true ]]; then
      echo "go-verifier: the witness cosigned a checkpoint covering seq $size (after $((SECONDS - began)) s)"; return 0
    fi
    sleep 0.2
  done
  echo "go-verifier: no checkpoint covering seq $size was cosigned in 60 s; the service's witness warnings:"
  curl -sS "$BASE_URL/health/ready"; echo; return 1
}
# a C2SP verifier key of NAME for a key nobody holds: TYPE 1 is a note signer's (Ed25519), 4 a witness's (cosignature/v1)
fresh_vkey () {
  node -e 'const c = require("node:crypto"); const [name, type] = [process.argv[1], Number(process.argv[2])]
  const key = Buffer.concat([Buffer.from([type]), c.generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(-32)])
  const id = c.createHash("sha256").update(name + "\n").update(key).digest().subarray(0, 4).toString("hex")
  process.stdout.write(`${name}+${id}+${key.toString("base64")}`)' "$1" "$2"
}

ingest 300 0
covered
cosigned
"$VERIFIER" -url "$BASE_URL" -tenant "$NAME" -token "$MONITOR" -vkey "$VKEY" -witness "$WITNESS_VKEY" -quorum 1 \
  -receipts "$OUT/receipts.json" -save-checkpoint "$OUT/first.note"
echo "go-verifier: first checkpoint: $(head -2 "$OUT/first.note" | tail -1) leaves"
ingest 500 300
ingest 7 800
covered
# the witness cosigned this one only after checking a consistency proof from the first (C2SP tlog-witness)
cosigned
"$VERIFIER" -url "$BASE_URL" -tenant "$NAME" -token "$MONITOR" -vkey "$VKEY" -witness "$WITNESS_VKEY" -quorum 1 \
  -receipts "$OUT/receipts.json" -old-checkpoint "$OUT/first.note" | tee "$OUT/witnessed.log"
grep -qF 'ok  cosigned by 1 witness(es) of 1 given (quorum 1)' "$OUT/witnessed.log"
# the same cosigned checkpoint, but required of the witness's own name with a key it does not hold: its
# cosignature line is there, but not by that key
UNKNOWN_WITNESS=$(fresh_vkey "${WITNESS_VKEY%%+*}" 4)
if "$VERIFIER" -url "$BASE_URL" -tenant "$NAME" -token "$MONITOR" -vkey "$VKEY" -witness "$UNKNOWN_WITNESS" -quorum 1 > "$OUT/refused.log" 2>&1; then
  echo "go-verifier: a witness key that did not cosign made the quorum"; exit 1
fi
grep -qF 'cosigned by 0 of the given witnesses, fewer than the quorum of 1' "$OUT/refused.log" || { cat "$OUT/refused.log"; exit 1; }
echo "go-verifier: refused a witness that did not cosign: $(tail -1 "$OUT/refused.log")"
# a log its admin made public is followed with no credential at all
call PUT /tenant/log-access "$TOKEN" '{"public":true}' > /dev/null
"$VERIFIER" -url "$BASE_URL" -tenant "$NAME" -vkey "$VKEY" -old-checkpoint "$OUT/first.note"

# a verifier that cannot fail proves nothing: it must refuse another key, and a receipt that the log does not hold
OTHER_VKEY=$(fresh_vkey "${VKEY%%+*}" 1)
if "$VERIFIER" -url "$BASE_URL" -tenant "$NAME" -token "$MONITOR" -vkey "$OTHER_VKEY" > "$OUT/refused.log" 2>&1; then
  echo "go-verifier: a checkpoint verified with another key"; exit 1
fi
echo "go-verifier: refused another key: $(tail -1 "$OUT/refused.log")"
node -e 'const fs = require("node:fs"); const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); const k = r[5]
  k.leaf_hash = (k.leaf_hash[0] === "0" ? "1" : "0") + k.leaf_hash.slice(1); fs.writeFileSync(process.argv[2], JSON.stringify([k]))' "$OUT/receipts.json" "$OUT/forged.json"
if "$VERIFIER" -url "$BASE_URL" -tenant "$NAME" -token "$MONITOR" -vkey "$VKEY" -receipts "$OUT/forged.json" > "$OUT/refused.log" 2>&1; then
  echo "go-verifier: a changed receipt verified"; exit 1
fi
echo "go-verifier: refused a changed receipt: $(tail -1 "$OUT/refused.log")"
if service_logged_errors; then exit 1; fi
echo "go-verifier: passed"
