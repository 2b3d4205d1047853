# Sourced by scripts that check the running service from outside (fuzz.sh, sdk-check.sh): starts the real
# service from its sources (through tsx, as `npm run start:dev` runs it), on a database of this run's own under MONGODB_URL, with a bootstrap admin
# holding every role; waits until it answers /health/ready; stops it and drops the database on exit.
# In: NAME (prefix of the database, the admin and the messages); SERVICE_ENV, an array of extra VAR=value;
# ON_EXIT, optionally a function this exit trap (which replaces the caller's) runs once the service is stopped.
# Out: BASE_URL, ADMIN_USERNAME, ADMIN_PASSWORD, SERVICE_LOG, and `service_logged_errors` for the end.

random_text () { node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("base64url"))'; }
DATABASE="${NAME}_$(date +%s)_$$"
ADMIN_USERNAME=$NAME-admin
ADMIN_PASSWORD=$(random_text)
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/audit-log-$NAME-XXXXXX")
SERVICE_LOG="$WORK_DIR/service.log"
: > "$SERVICE_LOG"

drop_database () {
  node --input-type=module -e '
    import { MongoClient } from "mongodb"
    const client = new MongoClient(process.env.MONGODB_URL, { serverSelectionTimeoutMS: 5000 })
    try { await client.db(process.argv[1]).dropDatabase() } finally { await client.close() }
  ' "$DATABASE" || echo "$NAME: could not drop database $DATABASE" >&2
}
SERVICE_PID=
cleanup () {
  if [[ -n $SERVICE_PID ]]; then kill "$SERVICE_PID" 2>/dev/null || true; wait "$SERVICE_PID" 2>/dev/null || true; fi
  drop_database
  rm -rf "$WORK_DIR"
  if [[ -n ${ON_EXIT:-} ]]; then "$ON_EXIT"; fi
}
trap cleanup EXIT

# PORT=0: the system picks a free port (one chosen beforehand can be taken in between); the log says which.
env HOST=127.0.0.1 PORT=0 LOG_LEVEL=info JWT_SECRET="$(random_text)" MONGODB_DATABASE="$DATABASE" DATA_DIR="$WORK_DIR/data" \
  ADMIN_USERNAME="$ADMIN_USERNAME" ADMIN_PASSWORD="$ADMIN_PASSWORD" ADMIN_TENANT="$NAME" "${SERVICE_ENV[@]}" \
  node --import tsx src/server.ts > "$SERVICE_LOG" 2>&1 &
SERVICE_PID=$!

BASE_URL=
for _ in $(seq 1 240); do
  BASE_URL=$(grep -o '"msg":"Server listening at http://127\.0\.0\.1:[0-9]*"' "$SERVICE_LOG" | grep -o 'http://[0-9.:]*' | head -1 || true)
  if [[ -n $BASE_URL ]]; then break; fi
  if ! kill -0 "$SERVICE_PID" 2>/dev/null; then echo "$NAME: the service did not start:" >&2; cat "$SERVICE_LOG" >&2; exit 1; fi
  sleep 0.5
done
if [[ -z $BASE_URL ]]; then echo "$NAME: the service did not start listening in 120 s:" >&2; cat "$SERVICE_LOG" >&2; exit 1; fi
curl -fsS "$BASE_URL/health/ready" > /dev/null

# The service's own account of any 5xx (logged at error level), which a client sees only as a status.
service_logged_errors () {
  if ! grep -q '"level":50' "$SERVICE_LOG"; then return 1; fi
  echo "$NAME: the service logged errors:" >&2
  grep '"level":50' "$SERVICE_LOG" | head -20 >&2
}
