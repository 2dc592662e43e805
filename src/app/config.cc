#include "app/config.h"

#include <unistd.h>

#include <cctype>

#include <CLI/CLI.hpp>
#include <boost/json/parse.hpp>

#include "common/thread_priority.h"

namespace embedrec::app {

void AddServeFlags(CLI::App& cmd, ServeConfig& c) {
  cmd.add_option("--data-dir", c.data_dir, "Data directory")->envname("EMBEDREC_DATA_DIR")
      ->capture_default_str();
  cmd.add_option("--bind", c.bind, "Address to listen on")->envname("EMBEDREC_BIND")
      ->capture_default_str();
  cmd.add_option("--gateway-port", c.gateway_port, "Gateway port (serves every route)")
      ->envname("EMBEDREC_GATEWAY_PORT")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd.add_option("--ml-port", c.ml_port, "ML engine port")->envname("EMBEDREC_ML_PORT")
      ->capture_default_str()->check(CLI::Range(0, 65535));
  cmd.add_option("--pipeline-port", c.pipeline_port, "Data pipeline port")
      ->envname("EMBEDREC_PIPELINE_PORT")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd.add_option("--roles", c.roles, "Roles to serve: gateway, ml, pipeline (comma-separated)")
      ->envname("EMBEDREC_ROLES")->delimiter(',')->capture_default_str()
      ->check(CLI::IsMember({"gateway", "ml", "pipeline"}));
  cmd.add_option("--admin-token", c.admin_token,
                 "Platform admin bearer token (prefer the variable; generated when unset)")
      ->envname("EMBEDREC_ADMIN_TOKEN");
  cmd.add_option("--jwt-secret", c.jwt_secret,
                 "Secret signing access tokens (prefer the variable; generated when unset)")
      ->envname("EMBEDREC_JWT_SECRET");
  cmd.add_option("--jwt-previous-secrets", c.jwt_previous_secrets,
                 "With --jwt-secret: earlier secrets (comma-separated) whose access tokens still verify")
      ->envname("EMBEDREC_JWT_PREVIOUS_SECRETS");
  cmd.add_option("--log-level", c.log_level, "trace, debug, info, warn, error, off")
      ->envname("EMBEDREC_LOG_LEVEL")->capture_default_str();
  cmd.add_option("--log-format", c.log_format, "text or json")->envname("EMBEDREC_LOG_FORMAT")
      ->capture_default_str()->check(CLI::IsMember({"text", "json"}));
  cmd.add_option("--http-threads", c.http_threads, "Network threads (0: one per core)")
      ->envname("EMBEDREC_HTTP_THREADS")->check(CLI::Range(0, 256));
  cmd.add_option("--slow-request-ms", c.slow_request_ms,
                 "A request answered this many ms after it arrived is logged with where its time went (0: none)")
      ->envname("EMBEDREC_SLOW_REQUEST_MS")->capture_default_str()->check(CLI::Range(0, 86400000));
  cmd.add_option("--stall-warning-ms", c.stall_warning_ms,
                 "A network thread that runs nothing this many ms (a handler blocks it) is logged with its stack "
                 "(0: not watched)")
      ->envname("EMBEDREC_STALL_WARNING_MS")->capture_default_str()->check(CLI::Range(0, 3600000));
  cmd.add_option("--worker-threads", c.worker_threads,
                 "Threads for blocking work (0: max(4, two per core); with a database server max(8, four per core))")
      ->envname("EMBEDREC_WORKER_THREADS")->check(CLI::Range(0, 1024));
  cmd.add_option("--max-body-bytes", c.max_body_bytes, "Body limit of non-upload routes")
      ->envname("EMBEDREC_MAX_BODY_BYTES")->capture_default_str();
  cmd.add_option("--max-upload-bytes", c.max_upload_bytes, "Body limit of upload routes")
      ->envname("EMBEDREC_MAX_UPLOAD_BYTES")->capture_default_str();
  cmd.add_option("--idle-timeout", c.idle_timeout_seconds, "Seconds an idle keep-alive connection stays open")
      ->envname("EMBEDREC_IDLE_TIMEOUT")->capture_default_str()->check(CLI::Range(1, 86400));
  cmd.add_option("--request-timeout", c.request_timeout_seconds,
                 "Seconds to receive one request or send one response")
      ->envname("EMBEDREC_REQUEST_TIMEOUT")->capture_default_str()->check(CLI::Range(1, 86400));
  cmd.add_option("--shutdown-grace", c.shutdown_grace_seconds,
                 "Seconds in-flight requests get to finish on SIGTERM/SIGINT")
      ->envname("EMBEDREC_SHUTDOWN_GRACE")->capture_default_str()->check(CLI::Range(0, 3600));
  cmd.add_option("--shutdown-deadline", c.shutdown_deadline_seconds,
                 "Seconds the whole stop may take (requests, jobs, the last writes); past it, or on a second "
                 "SIGTERM/SIGINT, the process exits at once (what is acknowledged is already durable)")
      ->envname("EMBEDREC_SHUTDOWN_DEADLINE")->capture_default_str()->check(CLI::Range(1, 7200));
  cmd.add_option("--web-dir", c.web_dir,
                 "Where the built browser assets are (widget.js; default: web/ beside the binary, where make "
                 "build puts them)")
      ->envname("EMBEDREC_WEB_DIR");
  cmd.add_option("--database-url", c.database_url,
                 "Where the control data is kept: sqlite:// (default: the data dir) or "
                 "postgresql://user:password@host:port/database (shared by every node)")
      ->envname("EMBEDREC_DATABASE_URL")
      ->check([](const std::string& v) {
        return v.empty() || v == "sqlite://" || v.rfind("postgresql://", 0) == 0 || v.rfind("postgres://", 0) == 0
                   ? ""
                   : "not sqlite:// or postgresql://…: " + v;
      });
  cmd.add_option("--blob-url", c.blob_url,
                 "Where uploads and model files are kept: file:// (default: the data dir) or s3://bucket/prefix "
                 "(with EMBEDREC_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
      ->envname("EMBEDREC_BLOB_URL")
      ->check([](const std::string& v) {
        return v.empty() || v == "file://" || v.rfind("s3://", 0) == 0 ? "" : "not file:// or s3://bucket/prefix: " + v;
      });
  cmd.add_option("--cache-url", c.cache_url,
                 "Where login throttling and rate limits are counted across nodes: redis://[:password@]host[:port][/db] "
                 "(default: each process's memory)")
      ->envname("EMBEDREC_CACHE_URL")
      ->check([](const std::string& v) {
        return v.empty() || v.rfind("redis://", 0) == 0 ? "" : "not redis://host[:port][/db]: " + v;
      });
  cmd.add_option("--events-url", c.events_url,
                 "Where the tenants' events are also published: kafka://host:port[,host:port...][/topic-prefix] "
                 "(default: only in each tenant's event log)")
      ->envname("EMBEDREC_EVENTS_URL")
      ->check([](const std::string& v) {
        return v.empty() || v.rfind("kafka://", 0) == 0 ? "" : "not kafka://host:port[/prefix]: " + v;
      });
  cmd.add_option("--port-file", c.port_file, "Write the bound ports as JSON to this file")
      ->envname("EMBEDREC_PORT_FILE");
  cmd.add_option("--memory-budget", c.memory_budget,
                 "Memory serving may hold for its tenants: models, catalogs, popularity, profiles (e.g. 512MiB, 2G; default 40 % of the machine's)")
      ->envname("EMBEDREC_MEMORY_BUDGET")
      ->check([](const std::string& v) { return ParseByteSize(v) ? "" : "not a size: " + v; });
  cmd.add_option("--job-lease-seconds", c.job_lease_seconds,
                 "With PostgreSQL: seconds after which another node takes over the training job of a node that "
                 "stopped renewing it")
      ->envname("EMBEDREC_JOB_LEASE_SECONDS")->capture_default_str()->check(CLI::Range(1, 3600));
  cmd.add_option("--tenant-idle-seconds", c.tenant_idle_seconds,
                 "Seconds after which an unused tenant's database is closed (0: never)")
      ->envname("EMBEDREC_TENANT_IDLE_SECONDS")->capture_default_str()->check(CLI::Range(0, 86400 * 365));
  cmd.add_option("--track-commit-ms", c.track_commit_ms,
                 "Embedded mode: milliseconds after which journaled tracked events are committed to the "
                 "tenant's database")
      ->envname("EMBEDREC_TRACK_COMMIT_MS")->capture_default_str()->check(CLI::Range(1, 3600 * 1000));
  cmd.add_option("--training-workers", c.training_workers, "Training jobs run at once (across tenants)")
      ->envname("EMBEDREC_TRAINING_WORKERS")->capture_default_str()->check(CLI::Range(1, 64));
  cmd.add_option("--training-threads", c.training_threads, "Threads per training job (0: one per core)")
      ->envname("EMBEDREC_TRAINING_THREADS")->capture_default_str()->check(CLI::Range(0, 256));
  cmd.add_option("--training-priority", c.training_priority,
                 "Priority of the training threads: idle (they run on the cores requests leave free) or a "
                 "niceness 0-19 (a share of the cores even under a load that would take them all)")
      ->envname("EMBEDREC_TRAINING_PRIORITY")->capture_default_str()
      ->check([](const std::string& v) {
        return ParseBackgroundPriority(v) ? "" : "not idle nor a niceness 0-19: " + v;
      });
  cmd.add_option("--recommendation-log-days", c.recommendation_log_days,
                 "Days every answer shown is kept in the recommendation log (0: answers are not logged)")
      ->envname("EMBEDREC_RECOMMENDATION_LOG_DAYS")->capture_default_str()->check(CLI::Range(0, 3650));
  cmd.add_option("--event-retention-days", c.event_retention_days,
                 "Days each tenant's event log (GET /api/v1/data/events) is kept; unpublished events stay (0: forever)")
      ->envname("EMBEDREC_EVENT_RETENTION_DAYS")->capture_default_str()->check(CLI::Range(0, 36500));
  cmd.add_option("--idempotency-retention-hours", c.idempotency_retention_hours,
                 "Hours an Idempotency-Key is remembered (a replay after that is a new event; 0: forever)")
      ->envname("EMBEDREC_IDEMPOTENCY_RETENTION_HOURS")->capture_default_str()->check(CLI::Range(0, 876000));
  cmd.add_option("--upload-archive-days", c.upload_archive_days,
                 "Days an upload's archived file is kept (its rows stay imported; 0: forever)")
      ->envname("EMBEDREC_UPLOAD_ARCHIVE_DAYS")->capture_default_str()->check(CLI::Range(0, 36500));
  cmd.add_option("--tenant-limits", c.tenant_limits,
                 "Every tenant's limits where its settings.limits is silent: a JSON object of requests_per_second, "
                 "burst, max_concurrent_uploads, max_upload_bytes, max_storage_bytes, max_rows, "
                 "training_minutes_per_day (0: no limit)")
      ->envname("EMBEDREC_TENANT_LIMITS");
  cmd.add_option("--max-in-flight-per-tenant", c.max_in_flight_per_tenant,
                 "One tenant's requests waiting or running on this node at once; more get 429 (0: no limit)")
      ->envname("EMBEDREC_MAX_IN_FLIGHT_PER_TENANT")->capture_default_str()->check(CLI::Range(0, 1000000));
  cmd.add_option("--analytics", c.analytics,
                 "Count calls, answers and what they earned per tenant (the dashboard; false: nothing is counted)")
      ->envname("EMBEDREC_ANALYTICS")->capture_default_str();
  cmd.add_option("--retrain-check-seconds", c.retrain_check_seconds,
                 "How often tenants are looked at for automatic retraining (0: never; tenants switch it off "
                 "with settings.auto_retrain false)")
      ->envname("EMBEDREC_RETRAIN_CHECK_SECONDS")->capture_default_str()->check(CLI::Range(0, 86400));
  cmd.add_option("--retrain-min-gap-seconds", c.retrain_min_gap_seconds,
                 "No automatic retraining of a tenant sooner than this after its last job")
      ->envname("EMBEDREC_RETRAIN_MIN_GAP_SECONDS")->capture_default_str()->check(CLI::Range(0, 86400 * 30));
  cmd.add_option("--experiment-check-seconds", c.experiment_check_seconds,
                 "How often running experiments are looked at and decided (rollout, rollback, promotion; 0: only "
                 "by hand)")
      ->envname("EMBEDREC_EXPERIMENT_CHECK_SECONDS")->capture_default_str()->check(CLI::Range(0, 86400));
  cmd.add_option("--test-clock", c.test_clock,
                 "Tests only: the platform admin may move the server's time forward (POST /api/v1/admin/clock)")
      ->envname("EMBEDREC_TEST_CLOCK")->capture_default_str();
  cmd.add_option("--clock-offset-seconds", c.clock_offset_seconds,
                 "Tests only, with --test-clock: the server's time starts this far ahead of the real time")
      ->envname("EMBEDREC_CLOCK_OFFSET_SECONDS")->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{86400} * 3650));
  cmd.add_option("--keep-model-versions", c.keep_model_versions,
                 "Model versions kept besides the deployed one and those younger than --model-min-age-days")
      ->envname("EMBEDREC_KEEP_MODEL_VERSIONS")->capture_default_str()->check(CLI::Range(0, 10000));
  cmd.add_option("--model-min-age-days", c.model_min_age_days, "Model versions younger than this are kept")
      ->envname("EMBEDREC_MODEL_MIN_AGE_DAYS")->capture_default_str()->check(CLI::Range(0, 36500));
  cmd.add_option("--exact-search-max-items", c.exact_search_max_items,
                 "Catalogs up to this size get exact nearest-item search; larger ones HNSW")
      ->envname("EMBEDREC_EXACT_SEARCH_MAX_ITEMS")->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
}

std::optional<int64_t> ParseByteSize(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    return std::nullopt;
  }
  std::string unit = text.substr(used);
  for (auto& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (unit.size() >= 2 && unit.compare(unit.size() - 2, 2, "IB") == 0) unit.resize(unit.size() - 2);
  else if (unit.size() >= 2 && unit.back() == 'B') unit.pop_back();
  double scale = 1;
  if (unit == "K") scale = 1024.0;
  else if (unit == "M") scale = 1024.0 * 1024;
  else if (unit == "G") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!unit.empty() && unit != "B") return std::nullopt;
  const double bytes = value * scale;
  if (!(bytes >= 0) || bytes > 9.0e18) return std::nullopt;
  return static_cast<int64_t>(bytes);
}

int64_t ServingMemoryBudget(const ServeConfig& config) {
  if (!config.memory_budget.empty()) return ParseByteSize(config.memory_budget).value_or(0);
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page / 10 * 4 : 0;
}

StatusOr<tenants::TenantLimits> DefaultTenantLimits(const ServeConfig& config) {
  if (config.tenant_limits.empty()) return tenants::TenantLimits{};
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(config.tenant_limits, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument("EMBEDREC_TENANT_LIMITS (--tenant-limits) must be a JSON object");
  }
  return tenants::ParseTenantLimits(v.as_object(), tenants::TenantLimits{}, "EMBEDREC_TENANT_LIMITS");
}

}  // namespace embedrec::app
