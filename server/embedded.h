/* Files compiled into the binary by server/embed.py, so it runs from any folder. */
#pragma once
#include <stddef.h>

extern const char embedded_schema_sql[]; /* schema/schema.sql, NUL-terminated */
extern const size_t embedded_schema_sql_len;
extern const char embedded_migration_002[]; /* schema/migrations/002-list-indexes.sql */
extern const size_t embedded_migration_002_len;
extern const char embedded_migration_003[]; /* schema/migrations/003-fixture.sql */
extern const size_t embedded_migration_003_len;
extern const char embedded_migration_004[]; /* schema/migrations/004-list-counts.sql */
extern const size_t embedded_migration_004_len;
extern const char embedded_migration_005[]; /* schema/migrations/005-trigrams.sql */
extern const size_t embedded_migration_005_len;
extern const char embedded_migration_006[]; /* schema/migrations/006-trigram-buckets.sql */
extern const size_t embedded_migration_006_len;
extern const char embedded_demo_json[]; /* fixtures/demo.json, NUL-terminated */
extern const size_t embedded_demo_json_len;
extern const char embedded_openapi_json[]; /* schema/openapi.json */
extern const size_t embedded_openapi_json_len;
/* The console (server/ui/), served by console.c. */
extern const char embedded_ui_index_html[];
extern const size_t embedded_ui_index_html_len;
extern const char embedded_ui_console_css[];
extern const size_t embedded_ui_console_css_len;
extern const char embedded_ui_console_js[];
extern const size_t embedded_ui_console_js_len;
extern const char embedded_ui_favicon_svg[];
extern const size_t embedded_ui_favicon_svg_len;
