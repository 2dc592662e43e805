// Which backend each store runs on, chosen from the configuration's URLs
// (EMBEDREC_BLOB_URL, …): the embedded default (files under the data dir)
// or the scale-out servers shared by every node.
#pragma once

#include <memory>

#include "app/config.h"
#include "blob/blob_store.h"
#include "common/status.h"
#include "events/event_publisher.h"
#include "ingest/upload_progress.h"
#include "limits/limit_store.h"
#include "store/analytics_store.h"
#include "store/control_store.h"
#include "store/job_queue.h"
#include "store/recommendation_log.h"
#include "store/tenant_stores.h"

namespace embedrec::app {

// The control store: SQLite in the data dir (default) or PostgreSQL.
// kUnavailable when the database cannot be reached.
StatusOr<std::unique_ptr<store::ControlStore>> OpenControlStore(const ServeConfig& config);
// True when the control store is shared by several nodes (PostgreSQL).
bool SharedControlStore(const ServeConfig& config);

// Limits' counters (login throttling, rate limits): this process's memory,
// or Redis with EMBEDREC_CACHE_URL (this process's memory while Redis does
// not answer). kUnavailable when Redis does not answer at start.
StatusOr<std::unique_ptr<limits::LimitStore>> OpenLimitStore(const ServeConfig& config);

// Uploads' progress (X-Upload-Progress): this process's memory, or Redis
// with EMBEDREC_CACHE_URL (a poll through any node finds it).
StatusOr<std::unique_ptr<ingest::UploadProgressBoard>> OpenUploadProgress(const ServeConfig& config,
                                                                          const Clock* clock);

// Where the tenants' events are published besides their logs: null (the
// default) or Kafka. kUnavailable when no broker answers at start.
StatusOr<std::unique_ptr<events::EventPublisher>> OpenEventPublisher(const ServeConfig& config);

// The training jobs' queue shared by the nodes (PostgreSQL, schema "jobs");
// null for the embedded default (jobs wait in the process's memory).
StatusOr<std::unique_ptr<store::JobQueue>> OpenJobQueue(const ServeConfig& config);

// The tenants' data: SQLite databases under the data dir (default) or a
// schema each in the PostgreSQL database (with EMBEDREC_DATABASE_URL). With
// PostgreSQL, each node still keeps a directory per tenant it serves under
// its data dir (blobs with a file:// location, models being trained), made
// when the tenant is first opened there and removed with it.
// `node` names this process in the messages nodes send each other; with
// EMBEDREC_EVENTS_URL, tracked interactions reach the other nodes through
// Kafka (the published user-interactions events), not by NOTIFY.
StatusOr<std::unique_ptr<store::TenantStores>> OpenTenantStores(const ServeConfig& config, const Clock* clock,
                                                                store::CallbackRunner run_callback,
                                                                const std::string& node);

// The answers logged, and analytics' rollups: in each tenant's directory
// (default) or its PostgreSQL schema, which every node writes and reads
// (a click through one node is attributed to another node's answer; the
// dashboard counts every node). SharedControlStore tells which.
StatusOr<std::unique_ptr<store::RecommendationLog>> OpenRecommendationLog(const ServeConfig& config,
                                                                          const Clock* clock,
                                                                          store::RecommendationLogOptions options);
StatusOr<std::unique_ptr<store::AnalyticsStore>> OpenAnalyticsStore(const ServeConfig& config);

// Tenants' blob areas: in their directories (default) or in S3. A tenant has
// an area while its store in `spaces` exists. kInvalidArgument for a bad URL
// or missing credentials; kUnavailable when the bucket does not answer.
StatusOr<std::unique_ptr<blob::TenantBlobStores>> OpenTenantBlobs(const ServeConfig& config,
                                                                  store::TenantStores* spaces);

}  // namespace embedrec::app
