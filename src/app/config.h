// The settings of `embedrec serve`, from flags and EMBEDREC_* environment
// variables (a flag wins over its variable). Every field documents its default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "tenants/tenant_limits.h"

namespace CLI {
class App;
}

namespace embedrec::app {

struct ServeConfig {
  std::string data_dir = "./data";       // EMBEDREC_DATA_DIR: databases, blobs, secrets
  std::string bind = "127.0.0.1";        // EMBEDREC_BIND: address every port listens on
  int gateway_port = 8000;               // EMBEDREC_GATEWAY_PORT (0: any free port)
  int ml_port = 8001;                    // EMBEDREC_ML_PORT
  int pipeline_port = 8002;              // EMBEDREC_PIPELINE_PORT
  // EMBEDREC_ROLES: which of gateway, ml, pipeline this process serves.
  std::vector<std::string> roles = {"gateway", "ml", "pipeline"};
  std::string admin_token;               // EMBEDREC_ADMIN_TOKEN; generated when empty
  std::string jwt_secret;                // EMBEDREC_JWT_SECRET; generated (and rotatable) when empty
  // EMBEDREC_JWT_PREVIOUS_SECRETS: with EMBEDREC_JWT_SECRET, secrets (comma-
  // separated) whose tokens still verify: rotating a configured secret.
  std::string jwt_previous_secrets;
  std::string log_level = "info";        // EMBEDREC_LOG_LEVEL
  std::string log_format = "text";       // EMBEDREC_LOG_FORMAT: text | json
  int http_threads = 0;                  // EMBEDREC_HTTP_THREADS; 0: one per core
  int slow_request_ms = 1000;            // EMBEDREC_SLOW_REQUEST_MS: slower answers are logged (0: none)
  int stall_warning_ms = 500;            // EMBEDREC_STALL_WARNING_MS: a network thread silent this long is logged (0: off)
  int worker_threads = 0;                // EMBEDREC_WORKER_THREADS; 0: max(4, 2 per core)
  uint64_t max_body_bytes = 256 * 1024;  // EMBEDREC_MAX_BODY_BYTES: non-upload routes
  uint64_t max_upload_bytes = uint64_t{64} << 30;  // EMBEDREC_MAX_UPLOAD_BYTES: upload routes
  int idle_timeout_seconds = 75;         // EMBEDREC_IDLE_TIMEOUT
  int request_timeout_seconds = 60;      // EMBEDREC_REQUEST_TIMEOUT: read or write one message
  int shutdown_grace_seconds = 30;       // EMBEDREC_SHUTDOWN_GRACE
  int shutdown_deadline_seconds = 60;    // EMBEDREC_SHUTDOWN_DEADLINE: the whole stop, then _exit
  std::string port_file;                 // EMBEDREC_PORT_FILE: write bound ports as JSON here
  std::string web_dir;                   // EMBEDREC_WEB_DIR: built browser assets; "": web/ beside the binary
  // EMBEDREC_DATABASE_URL: where the control data (tenants, users, keys,
  // sessions, platform settings) is kept. "" or "sqlite://": control.db in
  // the data dir; "postgresql://user:password@host:port/db": PostgreSQL,
  // shared by every node (tables in the schema "control").
  std::string database_url;
  // EMBEDREC_BLOB_URL: where uploads' archives and model files are kept.
  // "" or "file://": in each tenant's directory under the data dir;
  // "s3://bucket/prefix": an S3-compatible store shared by every node
  // (EMBEDREC_S3_ENDPOINT for one that is not AWS; credentials and region
  // from the usual AWS variables).
  std::string blob_url;
  // EMBEDREC_CACHE_URL: "" (none: this process's memory) or
  // "redis://[:password@]host[:port][/db]": login throttling and rate
  // limits counted in Redis, across nodes (per node while it is down).
  std::string cache_url;
  // EMBEDREC_EVENTS_URL: "" (the tenants' events stay in their event logs,
  // GET /api/v1/data/events) or "kafka://host:port[,host:port…][/prefix]":
  // also published to Kafka topics (events/event_relay.h).
  std::string events_url;
  // EMBEDREC_MEMORY_BUDGET: bytes serving may hold for its tenants — their
  // models, catalogs, popularity and user profiles ("512MiB", "2G", or a
  // plain number); the least recently used tenants are dropped beyond it and
  // read again when asked for. Empty: 40 % of the machine's memory.
  std::string memory_budget;
  // EMBEDREC_TENANT_IDLE_SECONDS: a tenant's database, unused this long and
  // held by no request, is closed (opened again on its next use); 0: never.
  int tenant_idle_seconds = 600;
  // EMBEDREC_TRACK_COMMIT_MS (embedded mode): tracked events are answered
  // once in the tenant's journal and committed to its database at most this
  // long after the first of them (sooner when anything reads the database).
  int track_commit_ms = 20;
  int training_workers = 1;              // EMBEDREC_TRAINING_WORKERS: jobs trained at once
  // EMBEDREC_JOB_LEASE_SECONDS (with PostgreSQL): a training job is its
  // node's while the node renews its lease; a job whose node stopped for
  // this long is taken again by another node with the ml role.
  int job_lease_seconds = 60;
  int training_threads = 0;              // EMBEDREC_TRAINING_THREADS: threads per job; 0: one per core
  // EMBEDREC_TRAINING_PRIORITY: the training threads' priority: "idle" (they
  // run on what requests leave free) or a niceness 0-19 (a share of the
  // cores even when requests would take them all).
  std::string training_priority = "idle";
  int keep_model_versions = 5;           // EMBEDREC_KEEP_MODEL_VERSIONS: besides deployed and young ones
  int recommendation_log_days = 90;      // EMBEDREC_RECOMMENDATION_LOG_DAYS: 0 logs nothing
  int event_retention_days = 30;         // EMBEDREC_EVENT_RETENTION_DAYS: 0 keeps every event
  int idempotency_retention_hours = 168; // EMBEDREC_IDEMPOTENCY_RETENTION_HOURS: 0 keeps every key
  int upload_archive_days = 90;          // EMBEDREC_UPLOAD_ARCHIVE_DAYS: 0 keeps every archived upload
  // EMBEDREC_TENANT_LIMITS: every tenant's limits where its settings.limits
  // is silent, a JSON object over the built-in defaults
  // (tenants/tenant_limits.h); checked at start.
  std::string tenant_limits;
  // EMBEDREC_MAX_IN_FLIGHT_PER_TENANT: one tenant's requests waiting or
  // running on this node at once; past it, 429 (0: no limit).
  int max_in_flight_per_tenant = 512;
  bool analytics = true;                 // EMBEDREC_ANALYTICS: count calls, answers and attributions
  int retrain_check_seconds = 60;        // EMBEDREC_RETRAIN_CHECK_SECONDS: automatic retraining's pass (0: off)
  int retrain_min_gap_seconds = 3600;    // EMBEDREC_RETRAIN_MIN_GAP_SECONDS: no scheduled job sooner after a tenant's last
  int experiment_check_seconds = 60;     // EMBEDREC_EXPERIMENT_CHECK_SECONDS: experiments' decisions (0: by hand only)
  // For end-to-end tests only: the server's time is the real time plus an
  // offset, set at start and moved forward by the platform admin (POST
  // /api/v1/admin/clock). Never in production.
  bool test_clock = false;               // EMBEDREC_TEST_CLOCK
  int64_t clock_offset_seconds = 0;      // EMBEDREC_CLOCK_OFFSET_SECONDS (with the test clock)
  int model_min_age_days = 30;           // EMBEDREC_MODEL_MIN_AGE_DAYS: versions younger are kept
  int64_t exact_search_max_items = 200000;  // EMBEDREC_EXACT_SEARCH_MAX_ITEMS: HNSW above
};

// Adds the serve flags (bound to `config`) to a CLI11 (sub)command.
void AddServeFlags(CLI::App& cmd, ServeConfig& config);

// "512MiB", "2G", "1.5GB", "1000000": bytes (K/M/G/T are powers of 1024,
// with or without "iB"/"B"); nullopt when it is not a size.
std::optional<int64_t> ParseByteSize(const std::string& text);
// Serving's memory budget: ParseByteSize(config.memory_budget), or 40 %
// of the machine's memory when it is empty.
int64_t ServingMemoryBudget(const ServeConfig& config);

// Every tenant's default limits: config.tenant_limits over the built-in
// ones. kInvalidArgument naming the field when it is not a JSON object of
// limits.
StatusOr<tenants::TenantLimits> DefaultTenantLimits(const ServeConfig& config);

}  // namespace embedrec::app
