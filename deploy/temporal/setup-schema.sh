#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas up to the version this
# admin-tools image carries. Every step is idempotent (setup-schema leaves a newer schema alone),
# so it runs on every `docker compose up`, and a newer image upgrades the schema before the
# matching server starts. Connection settings come from SQL_* variables (see docker-compose.yml).
set -eu

schemas=/etc/temporal/schema/postgresql/v12
for pair in "${DBNAME}:temporal" "${VISIBILITY_DBNAME}:visibility"; do
  db=${pair%%:*}
  schema=${pair#*:}
  echo "setup-schema: database ${db} (${schema} schema)"
  temporal-sql-tool create-database --db "${db}"
  temporal-sql-tool --db "${db}" setup-schema -v 0.0
  temporal-sql-tool --db "${db}" update-schema -d "${schemas}/${schema}/versioned"
done
echo "setup-schema: done"
