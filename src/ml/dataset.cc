#include "ml/dataset.h"


#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <random>
#include <unordered_map>

#include "common/byte_source.h"
#include "common/strings.h"
#include "common/csv.h"
#include "interactions/interaction_rules.h"

namespace embedrec::ml {

bool UserItems::Contains(int32_t u, int32_t item) const {
  return std::binary_search(begin(u), end(u), item);
}

float UserItems::WeightOf(int32_t u, int32_t item) const {
  const int32_t* it = std::lower_bound(begin(u), end(u), item);
  if (it == end(u) || *it != item) return 0;
  return weights.empty() ? 1.0f : weights[it - items.data()];
}

UserItems UserItems::FromInteractions(int32_t n_users, std::vector<Interaction> pairs) {
  std::sort(pairs.begin(), pairs.end(), [](const Interaction& a, const Interaction& b) {
    return a.user != b.user ? a.user < b.user : a.item < b.item;
  });
  UserItems out;
  out.offsets.assign(static_cast<size_t>(n_users) + 1, 0);
  out.items.reserve(pairs.size());
  std::vector<float> weights;
  weights.reserve(pairs.size());
  bool all_one = true;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0 && pairs[i].user == pairs[i - 1].user && pairs[i].item == pairs[i - 1].item) {
      weights.back() = std::max(weights.back(), pairs[i].weight);
      all_one = all_one && weights.back() == 1.0f;
      continue;
    }
    out.items.push_back(pairs[i].item);
    weights.push_back(pairs[i].weight);
    all_one = all_one && pairs[i].weight == 1.0f;
    ++out.offsets[pairs[i].user + 1];
  }
  for (int32_t u = 0; u < n_users; ++u) out.offsets[u + 1] += out.offsets[u];
  if (!all_one) out.weights = std::move(weights);
  return out;
}


namespace {

// Whole lines from a plain or gzip file.
class LineReader {
 public:
  explicit LineReader(gzFile f) : f_(f) {}
  ~LineReader() {
    if (f_) gzclose(f_);
  }
  // False at the end.
  bool Next(std::string* line) {
    line->clear();
    char buf[1 << 16];
    while (gzgets(f_, buf, sizeof(buf))) {
      line->append(buf);
      if (!line->empty() && line->back() == '\n') {
        line->pop_back();
        if (!line->empty() && line->back() == '\r') line->pop_back();
        return true;
      }
    }
    return !line->empty();
  }

 private:
  gzFile f_;
};

}  // namespace

StatusOr<std::vector<Interaction>> ReadAdjacencyFile(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return Status::NotFound("cannot open " + path);
  gzbuffer(f, 1 << 20);
  LineReader lines(f);
  std::vector<Interaction> out;
  std::string line;
  int64_t line_no = 0;
  while (lines.Next(&line)) {
    ++line_no;
    const char* p = line.data();
    const char* end = p + line.size();
    bool first = true;
    int32_t user = 0;
    while (p < end) {
      while (p < end && (*p == ' ' || *p == '\t')) ++p;
      if (p == end) break;
      int32_t v = 0;
      auto [q, ec] = std::from_chars(p, end, v);
      if (ec != std::errc() || v < 0 || (q < end && *q != ' ' && *q != '\t')) {
        return Status::InvalidArgument(path + ":" + std::to_string(line_no) +
                                       ": expected non-negative integer ids");
      }
      p = q;
      if (first) {
        user = v;
        first = false;
      } else {
        out.push_back({user, v, 1.0f, 0});
      }
    }
  }
  return out;
}

StatusOr<std::vector<Interaction>> ReadInteractionsCsv(const std::string& path, double min_rating,
                                                       CsvIds* ids) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return Status::NotFound("cannot open " + path);
  gzbuffer(f, 1 << 20);
  std::unique_ptr<gzFile_s, int (*)(gzFile)> closer(f, gzclose);
  class GzSource final : public ByteSource {
   public:
    explicit GzSource(gzFile f) : f_(f) {}
    StatusOr<size_t> Read(char* buf, size_t n) override {
      int r = gzread(f_, buf, static_cast<unsigned>(std::min<size_t>(n, 1 << 30)));
      if (r < 0) return Status::Internal("read error");
      return static_cast<size_t>(r);
    }
    gzFile f_;
  } src(f);

  std::unordered_map<std::string, int32_t> users, items;
  for (size_t i = 0; i < ids->user_ids.size(); ++i) users.emplace(ids->user_ids[i], i);
  for (size_t i = 0; i < ids->item_ids.size(); ++i) items.emplace(ids->item_ids[i], i);
  auto index = [](std::unordered_map<std::string, int32_t>& m, std::vector<std::string>& v,
                  std::string_view id) {
    auto [it, added] = m.emplace(std::string(id), static_cast<int32_t>(v.size()));
    if (added) v.emplace_back(id);
    return it->second;
  };
  int user_col = -1, item_col = -1, rating_col = -1, ts_col = -1, type_col = -1;
  std::vector<Interaction> out;
  Status error;
  bool header = true;
  CsvParser parser({}, [&](const CsvRecord& r) -> Status {
    if (header) {
      header = false;
      for (size_t i = 0; i < r.fields.size(); ++i) {
        std::string n = AsciiLower(Trim(r.fields[i]));
        if (n == "user_id" || n == "userid" || n == "user") user_col = static_cast<int>(i);
        if (n == "item_id" || n == "itemid" || n == "movieid" || n == "item") {
          item_col = static_cast<int>(i);
        }
        if (n == "rating") rating_col = static_cast<int>(i);
        if (n == "timestamp" || n == "ts" || n == "time") ts_col = static_cast<int>(i);
        if (n == "interaction_type" || n == "type" || n == "event_type") {
          type_col = static_cast<int>(i);
        }
      }
      if (user_col < 0 || item_col < 0) {
        return Status::InvalidArgument(path + ": the header needs user_id and item_id columns");
      }
      return Status::Ok();
    }
    if (!r.error.empty() || static_cast<int>(r.fields.size()) <= std::max(user_col, item_col)) {
      return Status::InvalidArgument(path + ": record " + std::to_string(r.record) +
                                     " is malformed");
    }
    if (rating_col >= 0 && rating_col < static_cast<int>(r.fields.size())) {
      std::string_view t = Trim(r.fields[rating_col]);
      double rating = 0;
      auto [q, ec] = std::from_chars(t.data(), t.data() + t.size(), rating);
      if (ec == std::errc() && rating < min_rating) return Status::Ok();
    }
    Interaction x;
    if (type_col >= 0 && type_col < static_cast<int>(r.fields.size())) {
      x.weight = interactions::DefaultTypeWeight(AsciiLower(Trim(r.fields[type_col])));
      if (x.weight <= 0) return Status::Ok();
    }
    x.user = index(users, ids->user_ids, Trim(r.fields[user_col]));
    x.item = index(items, ids->item_ids, Trim(r.fields[item_col]));
    if (ts_col >= 0 && ts_col < static_cast<int>(r.fields.size())) {
      // The upload API's rules (interactions/interaction_rules.h).
      if (auto ms = interactions::ParseTimestampMillis(r.fields[ts_col])) x.ts = *ms / 1000;
    }
    out.push_back(x);
    return Status::Ok();
  });
  RETURN_IF_ERROR(parser.ParseAll(&src));
  if (header) return Status::InvalidArgument(path + " is empty");
  return out;
}

void SplitPerUser(const std::vector<Interaction>& all, const SplitOptions& opt,
                  std::vector<Interaction>* train, std::vector<Interaction>* test) {
  // The events in (user, item, newest first) order: a pair's events are adjacent.
  std::vector<Interaction> events = all;
  std::sort(events.begin(), events.end(), [](const Interaction& a, const Interaction& b) {
    if (a.user != b.user) return a.user < b.user;
    if (a.item != b.item) return a.item < b.item;
    return a.ts > b.ts;
  });
  // One edge per pair, dated by its latest event, weighing its strongest;
  // [first, last) of its events.
  struct Edge {
    Interaction pair;
    size_t first, last;
  };
  std::vector<Edge> edges;
  for (size_t k = 0; k < events.size(); ++k) {
    if (edges.empty() || events[k].user != edges.back().pair.user || events[k].item != edges.back().pair.item) {
      edges.push_back({events[k], k, k + 1});
    } else {
      edges.back().pair.weight = std::max(edges.back().pair.weight, events[k].weight);
      edges.back().last = k + 1;
    }
  }
  bool has_ts = opt.temporal && std::any_of(edges.begin(), edges.end(),
                                            [](const Edge& x) { return x.pair.ts != 0; });
  std::mt19937_64 rng(opt.seed);
  train->clear();
  test->clear();
  // Training keeps every event of its pairs (repeats and types, as a fit on
  // all the data sees them); a held-out pair is one test entry.
  auto keep = [&](const Edge& e) { train->insert(train->end(), events.begin() + e.first, events.begin() + e.last); };
  float top = 0;
  for (const auto& e : edges) top = std::max(top, e.pair.weight);
  size_t i = 0;
  while (i < edges.size()) {
    size_t j = i;
    while (j < edges.size() && edges[j].pair.user == edges[i].pair.user) ++j;
    // The user's pairs that may be held out, and the others (always kept).
    std::vector<Edge> mine;
    for (size_t k = i; k < j; ++k) {
      if (!opt.strongest_type_only || edges[k].pair.weight >= top) mine.push_back(edges[k]); else keep(edges[k]);
    }
    const size_t n = j - i;
    size_t held = static_cast<size_t>(static_cast<double>(mine.size()) * opt.fraction + 0.5);
    if (opt.strongest_type_only && held == 0 && !mine.empty() && n >= 3) held = 1;
    held = std::min(held, n - 1);
    if (static_cast<int>(n) < opt.min_items || held == 0) {
      for (const auto& e : mine) keep(e);
    } else {
      if (has_ts) {
        std::stable_sort(mine.begin(), mine.end(), [](const Edge& a, const Edge& b) { return a.pair.ts < b.pair.ts; });
      } else {
        std::shuffle(mine.begin(), mine.end(), rng);
      }
      for (size_t k = 0; k < mine.size() - held; ++k) keep(mine[k]);
      for (size_t k = mine.size() - held; k < mine.size(); ++k) test->push_back(mine[k].pair);
    }
    i = j;
  }
}

Dataset MakeDataset(std::vector<Interaction> train, std::vector<Interaction> test,
                    int32_t min_users, int32_t min_items) {
  Dataset d;
  d.n_users = min_users;
  d.n_items = min_items;
  for (const auto& x : train) {
    d.n_users = std::max(d.n_users, x.user + 1);
    d.n_items = std::max(d.n_items, x.item + 1);
  }
  for (const auto& x : test) {
    d.n_users = std::max(d.n_users, x.user + 1);
    d.n_items = std::max(d.n_items, x.item + 1);
  }
  d.train_events = train;
  d.train = UserItems::FromInteractions(d.n_users, std::move(train));
  if (std::any_of(test.begin(), test.end(), [](const Interaction& x) { return x.ts != 0; })) {
    std::vector<int64_t> first(d.n_users, INT64_MAX);
    for (const auto& x : test) first[x.user] = std::min(first[x.user], x.ts);
    std::vector<int32_t> in_visit(d.n_users, 0), at_first(d.n_users, 0);
    auto visits = [&](const Interaction& x) { return x.ts - first[x.user] <= Dataset::kSessionSeconds; };
    for (const auto& x : test) in_visit[x.user] += visits(x), at_first[x.user] += x.ts == first[x.user];
    std::vector<Interaction> next;
    for (const auto& x : test) {
      if (!visits(x)) continue;
      const float chance = 0.5f / static_cast<float>(in_visit[x.user]) +
                           (x.ts == first[x.user] ? 0.5f / static_cast<float>(at_first[x.user]) : 0.0f);
      next.push_back({x.user, x.item, chance, x.ts});
    }
    d.next_choices = UserItems::FromInteractions(d.n_users, std::move(next));
  }
  d.test = UserItems::FromInteractions(d.n_users, std::move(test));
  return d;
}

}  // namespace embedrec::ml
