#!/usr/bin/env bash
# Prints the README's table of cron examples, asked of a running Ksana through POST /schedules/preview.
#   KSANA_URL=http://127.0.0.1:7100 KSANA_KEY=… bench/cron-examples.sh
set -euo pipefail
url="${KSANA_URL:-http://127.0.0.1:7100}"
key="${KSANA_KEY:?set KSANA_KEY}"
examples=(
  '30 2 * * *|Europe/Berlin'
  '30 2 * * *|Europe/Berlin|2027-03-27T12:00:00Z'
  '30 2 * * *|Europe/Berlin|2027-10-30T12:00:00Z'
  '*/30 * * * *|Europe/Berlin|2027-03-28T00:15:00Z'
  '*/30 * * * *|Europe/Berlin|2027-10-31T00:15:00Z'
  '0 9 * * MON-FRI|America/New_York'
  '0 0 13 * FRI|UTC'
  '0 12 L * *|Asia/Shanghai'
  '0 8 1W * *|UTC'
  '0 18 * * 5L|Europe/London'
  '0 10 * * SUN#2|Australia/Sydney'
  '*/15 * * * * *|UTC'
  '@monthly|Asia/Kolkata'
)
echo "| \`cron\` | \`time_zone\` | \`start_at\` | next fire times (local) |"
echo "|---|---|---|---|"
for e in "${examples[@]}"; do
  IFS='|' read -r cron zone start <<<"$e"
  count=3; extra=""
  if [ -n "$start" ]; then count=4; extra=$(printf ',"start_at":"%s"' "$start"); fi
  body=$(printf '{"schedule":{"kind":"cron","cron":"%s","time_zone":"%s"%s},"count":%d}' "$cron" "$zone" "$extra" "$count")
  times=$(curl -fsS -H "Authorization: ApiKey $key" -H 'Content-Type: application/json' -d "$body" "$url/schedules/preview" \
    | python3 -c 'import json,sys; print(", ".join(u["local"] for u in json.load(sys.stdin)["upcoming"]))')
  echo "| \`$cron\` | $zone | ${start:-–} | $times |"
done
