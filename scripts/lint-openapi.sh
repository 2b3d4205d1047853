#!/usr/bin/env bash
# `npm run lint:openapi`: Redocly CLI's `recommended` ruleset (redocly.yaml), then Spectral's `oas` and OWASP API
# Security rulesets (.spectral.yaml), over the committed document.
# Redocly exits 0 on warnings; the target there is 0 errors AND 0 warnings, so both fail this script. Spectral
# fails it on any error (--fail-severity error); its warnings are printed, not fatal.
# Telemetry and the update check are off: CI has no business calling out, and the result must not
# depend on it.
set -euo pipefail
cd "$(dirname "$0")/.."
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
npx redocly lint openapi/openapi.json --format stylish 2>&1 | grep -v -e '^\s*$' -e '[║╔╚]' || true
redocly=0
npx redocly lint openapi/openapi.json --format json 2>/dev/null | node -e '
  let text = ""
  process.stdin.on("data", (chunk) => { text += chunk }).on("end", () => {
    const { totals } = JSON.parse(text)
    console.log(`lint:openapi: ${totals.errors} errors, ${totals.warnings} warnings (Redocly recommended)`)
    process.exit(totals.errors === 0 && totals.warnings === 0 ? 0 : 1)
  })' || redocly=$?
# both run, so one run reports every finding
spectral=0
npx spectral lint openapi/openapi.json --ruleset .spectral.yaml --fail-severity error --display-only-failures --format text || spectral=$?
if [ "$spectral" -eq 0 ]; then echo 'lint:openapi: 0 errors (Spectral oas + OWASP, .spectral.yaml)'; fi
[ "$redocly" -eq 0 ] && [ "$spectral" -eq 0 ]
