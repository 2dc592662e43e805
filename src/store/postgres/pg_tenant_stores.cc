// PostgreSQL backend of TenantStores: one schema per tenant in a database
// shared by every node, over one connection pool (statements name their
// tenant's schema; no per-tenant connections).
#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "common/random.h"
#include "store/postgres/pg_db.h"
#include "store/postgres/pg_tenant_schema.h"
#include "store/postgres/pg_tenant_store.h"
#include "store/tenant_stores.h"

namespace embedrec::store {
namespace {

class PgTenantStores final : public TenantStores {
 public:
  PgTenantStores(std::unique_ptr<PgDb> db, const Clock* clock, CallbackRunner run_callback, PgNodeOptions node)
      : db_(std::move(db)),
        clock_(clock),
        run_callback_(std::move(run_callback)),
        node_(node.node.empty() ? RandomBase62(12) : node.node),
        notify_tracked_(node.notify_tracked) {}

  ~PgTenantStores() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    stop_cv_.notify_all();
    if (listener_.joinable()) listener_.join();
  }

  void OnRemoteChange(std::function<void(const RemoteChange&)> fn) override {
    on_change_ = std::move(fn);
    listener_ = std::thread([this] { Listen(); });
  }

  void Broadcast(const RemoteChange& change) override {
    Status s = db_->Exec("SELECT pg_notify($1, $2)", {kChangesChannel, ChangeMessage(node_, change)}).status();
    if (!s.ok()) spdlog::warn("tenant {}: other nodes not told of a change: {}", change.tenant_id, s.ToString());
  }

  Status Ping() override { return db_->Exec("SELECT 1").status(); }

  Status Create(const std::string& tenant_id) override {
    if (!IsUuid(tenant_id)) return Status::InvalidArgument("tenant id must be a UUID");
    RETURN_IF_ERROR(db_->With([&](PgConn& c) {
      return MigrateSchema(c, TenantSchemaName(tenant_id), PgTenantMigrations());
    }));
    return OpenStore(tenant_id, /*create=*/true).status();
  }

  StatusOr<std::shared_ptr<TenantStore>> Open(const std::string& tenant_id) override {
    if (!IsUuid(tenant_id)) return Status::NotFound("tenant '" + tenant_id + "' does not exist");
    return OpenStore(tenant_id, /*create=*/false);
  }

  bool IsOpen(const std::string& tenant_id) override {
    std::lock_guard lock(mu_);
    return open_.count(tenant_id) > 0;
  }

  size_t OpenCount() override {
    std::lock_guard lock(mu_);
    return open_.size();
  }

  // A PostgreSQL store holds no connection of its own (the pool is shared),
  // so nothing is closed for being idle and `fn` is never called.
  void OnIdleClose(std::function<void(const std::vector<std::string>&)> fn) override {}

  void CloseIfUnused(const std::string& tenant_id) override {
    std::shared_ptr<TenantStore> closing;  // closed after the lock (declared first)
    std::lock_guard lock(mu_);
    auto it = open_.find(tenant_id);
    if (it == open_.end() || it->second.use_count() != 1) return;
    closing = std::move(it->second);
    open_.erase(it);
  }

  Status Drop(const std::string& tenant_id) override {
    if (!IsUuid(tenant_id)) return Status::InvalidArgument("tenant id must be a UUID");
    {
      std::lock_guard lock(mu_);
      open_.erase(tenant_id);
    }
    return db_->Exec("DROP SCHEMA IF EXISTS " + PgIdentifier(TenantSchemaName(tenant_id)) + " CASCADE").status();
  }

 private:
  // LISTENs on a connection of its own and hands other nodes' changes to
  // on_change_; reconnects when the connection is lost, and then tells of
  // a change to every open tenant (what was sent meanwhile is not known).
  void Listen() {
    bool first = true;
    while (!Stopped(first ? 0 : 500)) {
      auto conn = db_->Dedicated();
      if (!conn.ok() || !(*conn)->Exec(std::string("LISTEN ") + kChangesChannel).ok()) {
        first = false;
        continue;
      }
      if (!first) {
        std::vector<std::string> open;
        {
          std::lock_guard lock(mu_);
          for (const auto& [id, store] : open_) open.push_back(id);
        }
        for (const auto& id : open) {
          on_change_({id, RemoteChange::kModels});
          on_change_({id, RemoteChange::kData});
        }
      }
      first = false;
      pg_conn* raw = (*conn)->raw();
      while (!Stopped(0)) {
        pollfd p{PQsocket(raw), POLLIN, 0};
        ::poll(&p, 1, 200);
        if (!PQconsumeInput(raw)) {
          spdlog::warn("listening for other nodes' changes: {}; reconnecting", PQerrorMessage(raw));
          break;
        }
        while (PGnotify* n = PQnotifies(raw)) {
          std::string node;
          RemoteChange change;
          if (ParseChangeMessage(n->extra, &node, &change) && node != node_) on_change_(change);
          PQfreemem(n);
        }
      }
    }
  }

  bool Stopped(int wait_ms) {
    std::unique_lock lock(mu_);
    if (wait_ms > 0) stop_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return stop_; });
    return stop_;
  }

  StatusOr<std::shared_ptr<TenantStore>> OpenStore(const std::string& tenant_id, bool create) {
    {
      std::lock_guard lock(mu_);
      auto it = open_.find(tenant_id);
      if (it != open_.end()) return it->second;
    }
    const std::string schema = TenantSchemaName(tenant_id);
    if (!create) {
      ASSIGN_OR_RETURN(auto r, db_->Exec("SELECT 1 FROM pg_namespace WHERE nspname=$1", {schema}));
      if (r.size() == 0) return Status::NotFound("tenant '" + tenant_id + "' has no data space");
      // A schema made by an older build gets this build's migrations.
      RETURN_IF_ERROR(db_->With([&](PgConn& c) { return MigrateSchema(c, schema, PgTenantMigrations()); }));
    }
    ASSIGN_OR_RETURN(auto store, OpenPgTenantStore({db_.get(), tenant_id, PgIdentifier(schema), node_, notify_tracked_},
                                                   create,
                                                   clock_, &run_callback_));
    std::lock_guard lock(mu_);
    auto [it, added] = open_.emplace(tenant_id, store);
    return it->second;  // opened by another thread meanwhile: that one
  }

  std::unique_ptr<PgDb> db_;
  const Clock* clock_;
  const CallbackRunner run_callback_;  // outlives the stores: they are closed with this
  const std::string node_;  // this process, in change messages
  const bool notify_tracked_;
  std::function<void(const RemoteChange&)> on_change_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<TenantStore>> open_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::condition_variable stop_cv_;
  std::thread listener_;
};

}  // namespace

StatusOr<std::unique_ptr<TenantStores>> NewPostgresTenantStores(const std::string& url, const Clock* clock,
                                                                CallbackRunner run_callback, int pool_size,
                                                                PgNodeOptions node) {
  ASSIGN_OR_RETURN(auto db, PgDb::Open({.url = url, .schema = "", .pool_size = pool_size}, {}));
  return std::unique_ptr<TenantStores>(new PgTenantStores(std::move(db), clock, std::move(run_callback), std::move(node)));
}

}  // namespace embedrec::store
