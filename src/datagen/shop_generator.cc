#include "datagen/shop_generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "common/time_format.h"
#include "common/csv.h"

namespace embedrec::datagen {
namespace {

// splitmix64: tiny, fast, fully specified; good enough for synthetic data.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return double(Next() >> 11) * 0x1.0p-53; }        // [0, 1)
  int64_t Below(int64_t n) { return int64_t(Uniform() * double(n)); }  // [0, n)
  bool Chance(double p) { return Uniform() < p; }
  double Normal() {  // Box-Muller
    double u1 = std::max(Uniform(), 1e-300), u2 = Uniform();
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  }

 private:
  uint64_t s_;
};

// Samples indexes 0..n-1 with weight 1/(i+1)^s by inverting the cumulative sum.
class Zipf {
 public:
  Zipf(int64_t n, double s) : cdf_(std::max<int64_t>(n, 1)) {
    double sum = 0;
    for (int64_t i = 0; i < int64_t(cdf_.size()); ++i) cdf_[i] = sum += 1.0 / std::pow(i + 1.0, s);
    for (auto& c : cdf_) c /= sum;
  }
  int64_t Sample(Rng& rng) const {
    return std::lower_bound(cdf_.begin(), cdf_.end(), rng.Uniform()) - cdf_.begin();
  }
  double Probability(int64_t i) const { return cdf_[i] - (i > 0 ? cdf_[i - 1] : 0); }

 private:
  std::vector<double> cdf_;
};

const char* const kCategories[] = {
    "Audio", "Computers", "Wearables", "Accessories", "Cameras", "Phones", "Gaming", "Smart Home",
    "TV", "Networking", "Storage", "Printers", "Drones", "Tablets", "Office", "Kitchen",
    "Fitness", "Outdoor", "Books", "Toys", "Beauty", "Garden", "Tools", "Automotive", "Pets",
    "Music", "Movies", "Baby", "Health", "Lighting", "Furniture", "Bags", "Shoes", "Watches",
    "Jewelry", "Sports", "Travel", "Art", "Crafts", "Stationery"};
const char* const kAdjectives[] = {"Wireless", "Pro", "Compact", "Premium", "Smart", "Ultra",
                                   "Portable", "Classic", "Eco", "Max", "Mini", "Turbo"};
const char* const kNouns[] = {"Kit", "Set", "Edition", "Model", "Pack", "Series", "Bundle", "One"};
const char* const kBrandStems[] = {"Tech", "Pro", "Fit", "Nova", "Astra", "Vertex", "Zen",
                                   "Pulse", "Orbit", "Nimbus", "Apex", "Lumen"};

constexpr int kStyleDims = 8;
// How strongly each signal drives a choice (log scale), and how focused users
// are. Chosen so that no signal dominates: popularity alone, a user's
// categories alone, or a latent-factor model alone each explain only part
// of the choices (bench/quality_bench.py reports all three).
constexpr double kTaste = 1.3;         // latent taste × item style
constexpr double kBrandBoost = 0.7;    // a favourite brand
constexpr double kPriceBand = 0.8;     // tolerance around the user's price band (log scale)
constexpr double kSessionPull = 0.5;   // later views of a session near the previous style
constexpr double kExploration = 0.6;   // a session in a category outside the user's mix
constexpr double kSwitch = 0.25;       // the session moves to another category

struct Item {
  std::string id;
  int category = 0;
  int brand = 0;                    // index into the category's brands
  double log_price_offset = 0;      // log(price) − log(the category's median)
  std::array<float, kStyleDims> style{};
  double season_peak = -1;          // day of the year, −1: not seasonal
  double season_amplitude = 0;
  int64_t release = 0;              // unix seconds; chosen only after it
};

struct User {
  std::vector<std::pair<int, double>> categories;  // category, cumulative share
  std::vector<std::pair<int, int>> brands;         // favourite (category, brand)
  double price_offset = 0;                         // preferred log-price offset
  std::array<float, kStyleDims> taste{};
  int64_t joined = 0;
};

struct FileCloser {
  void operator()(std::FILE* f) const { if (f) std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Cumulative weights, sampled by binary search.
struct Cdf {
  std::vector<double> c;
  void Add(double w) { c.push_back((c.empty() ? 0 : c.back()) + w); }
  int64_t Sample(Rng& rng) const {
    return std::lower_bound(c.begin(), c.end(), rng.Uniform() * c.back()) - c.begin();
  }
};

double Dot(const std::array<float, kStyleDims>& a, const std::array<float, kStyleDims>& b) {
  double s = 0;
  for (int k = 0; k < kStyleDims; ++k) s += double(a[k]) * b[k];
  return s / std::sqrt(double(kStyleDims));
}

}  // namespace

StatusOr<ShopStats> GenerateShop(const ShopOptions& o, const std::string& dir) {
  if (o.items < 1 || o.users < 1 || o.interactions < 0 || o.categories < 1 || o.days < 1) {
    return Status::InvalidArgument("items, users, categories and days must be positive");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create " + dir + ": " + ec.message());
  Rng rng(o.seed);
  ShopStats stats;
  const int ncat = o.categories;
  auto cat_name = [&](int c) {
    return c < 40 ? std::string(kCategories[c]) : "Category " + std::to_string(c + 1);
  };

  // --- Catalog ---
  File items_f(std::fopen((dir + "/items.csv").c_str(), "w"));
  if (!items_f) return Status::Internal("cannot write " + dir + "/items.csv");
  std::fputs("item_id,name,category,price,description,brand,tags,image_url,in_stock\n", items_f.get());
  std::vector<double> cat_price(ncat);
  for (auto& p : cat_price) p = std::exp(2.5 + 2.0 * rng.Uniform());  // ~12 to ~90 median
  // Each category's brands: popular and niche ones (Zipf), each with a price level.
  std::vector<std::vector<std::string>> brand_names(ncat);
  std::vector<std::vector<double>> brand_price(ncat);
  std::vector<Zipf> brand_pop;
  for (int c = 0; c < ncat; ++c) {
    const int nb = 3 + int(rng.Below(6));
    for (int b = 0; b < nb; ++b) {
      brand_names[c].push_back(std::string(kBrandStems[(c * 7 + b) % 12]) +
                               kBrandStems[(c * 3 + b * 5 + 5) % 12] + (b >= 12 ? std::to_string(b) : ""));
      brand_price[c].push_back(0.4 * rng.Normal());
    }
    brand_pop.emplace_back(nb, 1.0);
  }
  const int64_t start = o.start_unix, span = o.days * 86400;
  std::vector<std::vector<int64_t>> by_cat(ncat);
  std::vector<Item> items;
  std::vector<double> popularity;
  items.reserve(o.items);
  for (int64_t i = 0; i < o.items; ++i) {
    Item it;
    // Category sizes are skewed too: a few large categories, many small ones.
    int c = int(std::min<int64_t>(ncat - 1, int64_t(ncat * std::pow(rng.Uniform(), 1.6))));
    it.category = c;
    it.brand = int(brand_pop[c].Sample(rng));
    char id[32];
    std::snprintf(id, sizeof id, "PROD_%06lld", static_cast<long long>(i + 1));
    it.id = id;
    const std::string& brand = brand_names[c][it.brand];
    std::string name = std::string(kAdjectives[rng.Below(12)]) + " " + cat_name(c) + " " +
                       kNouns[rng.Below(8)] + " " + std::to_string(rng.Below(900) + 100);
    it.log_price_offset = brand_price[c][it.brand] + 0.5 * rng.Normal();
    double price = std::max(0.99, cat_price[c] * std::exp(it.log_price_offset));
    for (auto& x : it.style) x = float(rng.Normal());
    if (rng.Chance(0.25)) {
      it.season_peak = double(rng.Below(365));
      it.season_amplitude = 0.5 + 1.5 * rng.Uniform();
    }
    it.release = rng.Chance(0.15) ? start + rng.Below(span) : start - 86400;
    popularity.push_back(std::exp(2.0 * rng.Normal()));  // log-normal: a heavy tail
    std::string tags = std::string(kAdjectives[rng.Below(12)]) + "|" + cat_name(c);
    for (auto& ch : tags) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::fprintf(items_f.get(), "%s,%s,%s,%.2f,%s,%s,%s,https://cdn.example.com/%s.jpg,%s\n", id,
                 CsvQuote(name).c_str(), CsvQuote(cat_name(c)).c_str(), price,
                 CsvQuote("A " + name + " by " + brand + ", \"best in class\"").c_str(), brand.c_str(),
                 CsvQuote(tags).c_str(), id, rng.Chance(0.95) ? "true" : "false");
    by_cat[c].push_back(i);
    items.push_back(std::move(it));
  }
  stats.items = o.items;
  if (std::fclose(items_f.release()) != 0) return Status::Internal("write items.csv failed");
  // Empty categories borrow from the catalogue at large.
  for (auto& v : by_cat) {
    if (v.empty()) v.push_back(rng.Below(o.items));
  }
  std::vector<Cdf> cat_items(ncat);  // candidates by base popularity
  for (int c = 0; c < ncat; ++c) {
    for (int64_t i : by_cat[c]) cat_items[c].Add(popularity[i]);
  }

  // --- Users ---
  Zipf cat_pop(ncat, 0.7);
  std::vector<User> users(o.users);
  for (auto& u : users) {
    const int k = 2 + int(std::min<int64_t>(4, int64_t(-std::log(std::max(rng.Uniform(), 1e-12)) / 0.6)));
    double total = 0;
    for (int n = 0; n < k; ++n) {
      const double share = -std::log(std::max(rng.Uniform(), 1e-12));  // uneven shares
      u.categories.emplace_back(int(cat_pop.Sample(rng)), total += share);
    }
    for (auto& [c, cum] : u.categories) cum /= total;
    const int nb = 1 + int(rng.Below(3));
    for (int n = 0; n < nb; ++n) {
      const int c = u.categories[rng.Below(int64_t(u.categories.size()))].first;
      u.brands.emplace_back(c, int(brand_pop[c].Sample(rng)));
    }
    u.price_offset = 0.5 * rng.Normal();
    for (auto& x : u.taste) x = float(rng.Normal());
    u.joined = start + rng.Below(span * 7 / 10);
  }
  Zipf user_act(o.users, o.user_zipf);

  // How much user u likes item i at time t (log scale, popularity aside).
  auto affinity = [&](const User& u, const Item& it, int64_t t, const Item* previous) {
    double a = kTaste * Dot(u.taste, it.style);
    for (const auto& [c, b] : u.brands) {
      if (c == it.category && b == it.brand) a += kBrandBoost;
    }
    const double dp = it.log_price_offset - u.price_offset;
    a -= dp * dp / (2 * kPriceBand * kPriceBand);
    if (it.season_peak >= 0) {
      const double day = double((t - start) / 86400 % 365);
      a += it.season_amplitude * std::cos(2 * M_PI * (day - it.season_peak) / 365);
    }
    if (previous) a += kSessionPull * Dot(previous->style, it.style);  // a session stays near its style
    return a;
  };
  // An item of category c for u: popularity-drawn candidates, one kept by affinity.
  constexpr int kCandidates = 48;
  std::vector<double> w(kCandidates);
  std::vector<int64_t> cand(kCandidates);
  auto choose = [&](const User& u, int c, int64_t t, const Item* previous) -> int64_t {
    double total = 0;
    for (int k = 0; k < kCandidates; ++k) {
      cand[k] = by_cat[c][cat_items[c].Sample(rng)];
      const Item& it = items[cand[k]];
      w[k] = it.release > t ? 0 : std::exp(affinity(u, it, t, previous));
      total += w[k];
    }
    if (total <= 0) return -1;
    double x = rng.Uniform() * total;
    for (int k = 0; k < kCandidates; ++k) {
      if ((x -= w[k]) < 0) return cand[k];
    }
    return cand[kCandidates - 1];
  };
  auto sigmoid = [](double x) { return 1 / (1 + std::exp(-x)); };

  // --- Interactions, session by session ---
  File inter_f(std::fopen((dir + "/interactions.csv").c_str(), "w"));
  if (!inter_f) return Status::Internal("cannot write " + dir + "/interactions.csv");
  std::fputs("user_id,item_id,interaction_type,timestamp,rating,duration_seconds\n", inter_f.get());
  char uid[32];
  const int64_t end = start + span;
  while (stats.interactions < o.interactions) {
    const int64_t ui = user_act.Sample(rng);
    const User& u = users[ui];
    std::snprintf(uid, sizeof uid, "USER_%06lld", static_cast<long long>(ui + 1));
    int64_t t = u.joined + rng.Below(std::max<int64_t>(1, end - u.joined));
    auto pick_category = [&] {
      if (rng.Chance(kExploration)) return int(cat_pop.Sample(rng));  // exploration, popular categories first
      const double x = rng.Uniform();
      for (const auto& [c, cum] : u.categories) {
        if (x < cum) return c;
      }
      return u.categories.back().first;
    };
    int c = pick_category();
    const Item* previous = nullptr;
    const int views = 1 + int(std::min<int64_t>(11, int64_t(-std::log(std::max(rng.Uniform(), 1e-12)) * 3)));
    for (int v = 0; v < views && stats.interactions < o.interactions; ++v) {
      if (v > 0 && rng.Chance(kSwitch)) c = pick_category(), previous = nullptr;
      const int64_t i = previous && rng.Chance(0.15) ? int64_t(previous - items.data()) : choose(u, c, t, previous);
      if (i < 0) continue;
      const Item& it = items[i];
      const double fit = affinity(u, it, t, nullptr);
      int64_t dur = 5 + int64_t(rng.Uniform() * 60 * (1 + sigmoid(fit) * 4));
      std::fprintf(inter_f.get(), "%s,%s,view,%s,,%lld\n", uid, it.id.c_str(), FormatRfc3339(t).c_str(),
                   static_cast<long long>(dur));
      ++stats.views;
      ++stats.interactions;
      t += dur + rng.Below(60);
      previous = &it;
      // Items that fit the user are carted and bought more often.
      if (stats.interactions < o.interactions && rng.Chance(std::min(0.9, o.cart_rate * 2 * sigmoid(fit)))) {
        t += 10 + rng.Below(120);
        std::fprintf(inter_f.get(), "%s,%s,add_to_cart,%s,,\n", uid, it.id.c_str(),
                     FormatRfc3339(t).c_str());
        ++stats.carts;
        ++stats.interactions;
        if (stats.interactions < o.interactions &&
            rng.Chance(std::min(0.95, o.purchase_rate * 2 * sigmoid(fit - 0.3 * it.log_price_offset)))) {
          t += 30 + rng.Below(600);
          std::string rating = rng.Chance(0.3) ? std::to_string(std::clamp<int64_t>(
                                                     int64_t(std::lround(3.5 + fit + rng.Normal())), 1, 5))
                                               : "";
          std::fprintf(inter_f.get(), "%s,%s,purchase,%s,%s,\n", uid, it.id.c_str(),
                       FormatRfc3339(t).c_str(), rating.c_str());
          ++stats.purchases;
          ++stats.interactions;
        }
      }
    }
  }
  if (std::fclose(inter_f.release()) != 0) return Status::Internal("write interactions.csv failed");
  if (!o.write_truth) return stats;

  // --- The generator's own purchase propensities (see the header) ---
  File truth_f(std::fopen((dir + "/truth.csv").c_str(), "w"));
  if (!truth_f) return Status::Internal("cannot write " + dir + "/truth.csv");
  std::fputs("user_id,item_id,category_share,in_category\n", truth_f.get());
  constexpr size_t kTruthPerCategory = 40;
  std::vector<std::pair<double, int64_t>> ranked;
  for (size_t ui = 0; ui < users.size(); ++ui) {
    const User& u = users[ui];
    std::snprintf(uid, sizeof uid, "USER_%06lld", static_cast<long long>(ui + 1));
    std::vector<double> share(ncat);
    double previous_cum = 0;
    for (const auto& [c, cum] : u.categories) share[c] += cum - previous_cum, previous_cum = cum;
    for (int c = 0; c < ncat; ++c) {
      const double p_category = kExploration * cat_pop.Probability(c) + (1 - kExploration) * share[c];
      ranked.clear();
      double picked_total = 0;  // the view's choice: popularity × exp(affinity), normalised in c
      for (int64_t i : by_cat[c]) {
        const Item& it = items[i];
        if (it.release > end) continue;
        const double fit = affinity(u, it, end, nullptr), pick = popularity[i] * std::exp(fit);
        picked_total += pick;
        const double bought = std::min(0.9, o.cart_rate * 2 * sigmoid(fit)) *
                              std::min(0.95, o.purchase_rate * 2 * sigmoid(fit - 0.3 * it.log_price_offset));
        ranked.emplace_back(pick * bought, i);
      }
      if (picked_total <= 0) continue;
      const size_t n = std::min(kTruthPerCategory, ranked.size());
      std::partial_sort(ranked.begin(), ranked.begin() + n, ranked.end(), std::greater<>());
      for (size_t k = 0; k < n; ++k) {
        std::fprintf(truth_f.get(), "%s,%s,%.6g,%.6g\n", uid, items[ranked[k].second].id.c_str(), p_category,
                     ranked[k].first / picked_total);
      }
    }
  }
  if (std::fclose(truth_f.release()) != 0) return Status::Internal("write truth.csv failed");
  return stats;
}

}  // namespace embedrec::datagen
