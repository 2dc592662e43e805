// The recommendation log in PostgreSQL: every node's answers in the
// tenant's schema (table recommendations), so a click tracked through any
// node is attributed to the answer another node gave. Behind the log's
// queue (store/recommendation_rows.h): a batch per tenant is one COPY,
// whatever its size.
#include <algorithm>
#include <array>

#include "store/postgres/pg_db.h"
#include "store/postgres/pg_tenant_schema.h"
#include "store/recommendation_rows.h"

namespace embedrec::store {
namespace {

constexpr const char* kColumns =
    "id, ts_ms, user_id, endpoint, model_version, algorithm, items, context, cached, experiment_id, arm";

// A record's values in kColumns' order, as PostgreSQL reads them from text.
constexpr size_t kFields = 11;
std::array<std::string, kFields> FieldsOf(const RecommendationRecord& r) {
  return {r.id,
          std::to_string(r.ts_ms),
          r.user_id,
          r.endpoint,
          r.model_version,
          r.algorithm,
          EncodeShownItems(r.items),
          r.context_json.empty() ? "{}" : r.context_json,
          r.cached ? "t" : "f",
          r.experiment_id,
          r.arm};
}

std::vector<RecommendationRecord> RecordsOf(const std::string& tenant_id, const PgRows& rows) {
  std::vector<RecommendationRecord> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    RecommendationRecord& r = out.emplace_back();
    r.tenant_id = tenant_id;
    r.id = rows.Text(i, 0);
    r.ts_ms = rows.Int(i, 1);
    r.user_id = rows.Text(i, 2);
    r.endpoint = rows.Text(i, 3);
    r.model_version = rows.Text(i, 4);
    r.algorithm = rows.Text(i, 5);
    r.items = DecodeShownItems(rows.Text(i, 6));
    r.context_json = rows.Text(i, 7);
    r.cached = rows.Bool(i, 8);
    r.experiment_id = rows.Text(i, 9);
    r.arm = rows.Text(i, 10);
  }
  return out;
}

class PgRecommendationRows final : public RecommendationRows {
 public:
  explicit PgRecommendationRows(std::unique_ptr<PgDb> db) : db_(std::move(db)) {}

  // COPY, the cheapest way in (PostgreSQL's CPU per logged answer 31 % below
  // the INSERT of unnested columns below while serving, docs/benchmarks.md);
  // the answers' log is most of what PostgreSQL does for serving. A record
  // stored already (a batch written again after its commit's answer was
  // lost) fails COPY's unique check: then the INSERT, which skips it.
  Status Write(const std::string& tenant_id, const std::vector<const RecommendationRecord*>& records,
               int64_t prune_before_ms) override {
    const std::string schema = Schema(tenant_id);
    std::string data;
    for (const RecommendationRecord* r : records) {
      const auto fields = FieldsOf(*r);
      for (size_t k = 0; k < fields.size(); ++k) {
        AppendCopyText(fields[k], &data);
        data.push_back(k + 1 < fields.size() ? '\t' : '\n');
      }
    }
    const std::string copy = InSchema(std::string("COPY {s}.recommendations (") + kColumns + ") FROM STDIN", schema);
    Status s = db_->Transaction([&](PgConn& c) -> Status {
      RETURN_IF_ERROR(c.CopyIn(copy, data));
      return prune_before_ms > 0 ? Prune(c, schema, prune_before_ms) : Status::Ok();
    });
    if (s.code() != StatusCode::kAlreadyExists) return s;
    return InsertSkippingStored(schema, records, prune_before_ms);
  }

  Status InsertSkippingStored(const std::string& schema, const std::vector<const RecommendationRecord*>& records,
                              int64_t prune_before_ms) {
    std::vector<PgParam> col[kFields];
    for (const RecommendationRecord* r : records) {
      auto fields = FieldsOf(*r);
      for (size_t k = 0; k < kFields; ++k) col[k].emplace_back(std::move(fields[k]));
    }
    std::vector<PgParam> arrays;
    for (const auto& c : col) arrays.emplace_back(PgArray(c));
    return db_->Transaction([&](PgConn& c) -> Status {
      RETURN_IF_ERROR(c.Exec(InSchema(std::string("INSERT INTO {s}.recommendations (") + kColumns +
                                          ") SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], "
                                          "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
                                          "$9::bool[], $10::text[], $11::text[]) ON CONFLICT (id) DO NOTHING",
                                      schema),
                             arrays)
                          .status());
      return prune_before_ms > 0 ? Prune(c, schema, prune_before_ms) : Status::Ok();
    });
  }

  static Status Prune(PgConn& c, const std::string& schema, int64_t before_ms) {
    return c.Exec(InSchema("DELETE FROM {s}.recommendations WHERE ts_ms < $1", schema), {std::to_string(before_ms)})
        .status();
  }

  StatusOr<std::optional<RecommendationRecord>> Find(const std::string& tenant_id,
                                                     const std::string& id) override {
    ASSIGN_OR_RETURN(auto rows, db_->Exec(InSchema(std::string("SELECT ") + kColumns +
                                                       " FROM {s}.recommendations WHERE id = $1",
                                                   Schema(tenant_id)),
                                          {id}));
    auto records = RecordsOf(tenant_id, rows);
    if (records.empty()) return std::optional<RecommendationRecord>();
    return std::optional<RecommendationRecord>(std::move(records[0]));
  }

  StatusOr<std::vector<RecommendationRecord>> Read(const std::string& tenant_id,
                                                   const RecommendationLog::Range& range) override {
    const bool after = !range.after_id.empty();
    ASSIGN_OR_RETURN(auto rows,
                     db_->Exec(InSchema(std::string("SELECT ") + kColumns +
                                            " FROM {s}.recommendations WHERE ts_ms >= $1 AND ts_ms < $2 AND "
                                            "(ts_ms, id) > ($3, $4) ORDER BY ts_ms, id LIMIT $5",
                                        Schema(tenant_id)),
                               {std::to_string(range.from_ms), std::to_string(range.to_ms),
                                std::to_string(after ? range.after_ts_ms : INT64_MIN),
                                after ? range.after_id : std::string(), std::to_string(range.limit)}));
    return RecordsOf(tenant_id, rows);
  }

  StatusOr<std::vector<RecommendationRecord>> ReadUser(const std::string& tenant_id, const std::string& user_id,
                                                       int64_t from_ms, int64_t to_ms, int limit) override {
    ASSIGN_OR_RETURN(auto rows,
                     db_->Exec(InSchema(std::string("SELECT ") + kColumns +
                                            " FROM {s}.recommendations WHERE user_id = $1 AND user_id <> '' AND "
                                            "ts_ms >= $2 AND ts_ms < $3 ORDER BY ts_ms DESC, id DESC LIMIT $4",
                                        Schema(tenant_id)),
                               {user_id, std::to_string(from_ms), std::to_string(to_ms), std::to_string(limit)}));
    return RecordsOf(tenant_id, rows);
  }

  StatusOr<std::vector<std::string>> UsersSince(const std::string& tenant_id, int64_t from_ms,
                                                size_t limit) override {
    ASSIGN_OR_RETURN(auto rows, db_->Exec(InSchema("SELECT DISTINCT user_id FROM {s}.recommendations "
                                                   "WHERE ts_ms >= $1 AND user_id <> '' LIMIT $2",
                                                   Schema(tenant_id)),
                                          {std::to_string(from_ms),
                                           std::to_string(std::min<size_t>(limit, INT64_MAX))}));
    std::vector<std::string> out;
    for (int i = 0; i < rows.size(); ++i) out.push_back(rows.Text(i, 0));
    return out;
  }

  // Connections are pooled across tenants: nothing is held per tenant.
  void Close(const std::string&) override {}

 private:
  static std::string Schema(const std::string& tenant_id) { return PgIdentifier(TenantSchemaName(tenant_id)); }

  std::unique_ptr<PgDb> db_;
};

}  // namespace

StatusOr<std::unique_ptr<RecommendationLog>> NewPostgresRecommendationLog(const std::string& url,
                                                                          const Clock* clock,
                                                                          RecommendationLogOptions options,
                                                                          int pool_size) {
  ASSIGN_OR_RETURN(auto db, PgDb::Open({.url = url, .schema = "", .pool_size = pool_size}, {}));
  return NewQueuedRecommendationLog(std::make_unique<PgRecommendationRows>(std::move(db)), clock, options);
}

}  // namespace embedrec::store
