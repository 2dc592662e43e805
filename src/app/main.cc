// embedrec: the whole recommendation platform in one binary.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <thread>

#include "app/config.h"
#include "app/train_command.h"
#include "app/platform.h"
#include "common/build_info.h"
#include "common/log.h"
#include "common/process_limits.h"
#include "common/random.h"
#include "datagen/movielens.h"
#include "datagen/shop_generator.h"
#include "ml/library_env.h"

namespace {

int Serve(const embedrec::app::ServeConfig& config) {
  embedrec::Status s = embedrec::InitLogging(config.log_level, config.log_format);
  if (!s.ok()) {
    std::fprintf(stderr, "embedrec: %s\n", s.message().c_str());
    return 2;
  }
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A few files per tenant served: the shell's default soft limit (often
  // 1,024) runs out near a thousand tenants.
  const embedrec::OpenFileLimit files = embedrec::RaiseOpenFileLimit();
  if (files.now < 8192) {
    spdlog::warn("open files limited to {} (hard limit {}): a node serving many tenants needs a few per tenant",
                 files.now, files.hard);
  } else if (files.now != files.before) {
    spdlog::info("open files limit raised from {} to {}", files.before, files.now);
  }

  auto platform = embedrec::app::Platform::Start(config);
  if (!platform.ok()) {
    std::fprintf(stderr, "embedrec: cannot start: %s\n", platform.status().message().c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&stop, &sig);
  // The stop has a deadline, and a second signal cuts it short: either ends
  // the process at once (what was acknowledged is durable already; what is
  // lost is what a kill loses: counters not yet flushed, a job's run).
  std::atomic<bool> stopped{false};
  std::thread watchdog([&stop, &stopped, seconds = config.shutdown_deadline_seconds] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!stopped.load()) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        spdlog::error("the stop took longer than its deadline ({} s, --shutdown-deadline): exiting now", seconds);
        spdlog::default_logger()->flush();
        _exit(1);
      }
      const auto wait = std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(200));
      timespec ts{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
      const int again = sigtimedwait(&stop, nullptr, &ts);
      if (again > 0) {
        spdlog::warn("a second {} during the stop: exiting now", again == SIGINT ? "SIGINT" : "SIGTERM");
        spdlog::default_logger()->flush();
        _exit(128 + again);
      }
    }
  });
  (*platform)->Shutdown();
  stopped = true;
  watchdog.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // May execute this program again: first. The server's training jobs share
  // the cores with requests (a short OpenMP spin); the offline trainer does not.
  embedrec::ml::SetLibraryEnvironment(argv, argc > 1 && std::string_view(argv[1]) == "serve");
  embedrec::InitCrypto();
  CLI::App app{"embedrec — a multi-tenant recommendation platform in one binary"};
  app.require_subcommand(1);

  embedrec::app::ServeConfig config;
  auto* serve = app.add_subcommand(
      "serve", "Start the platform (gateway :8000, ML engine :8001, data pipeline :8002)");
  embedrec::app::AddServeFlags(*serve, config);
  auto* version = app.add_subcommand("version", "Print the version and exit");

  embedrec::datagen::ShopOptions shop;
  std::string shop_dir;
  auto* gen = app.add_subcommand(
      "generate-shop", "Write a synthetic shop (items.csv, interactions.csv) for tests and benchmarks");
  gen->add_option("--out", shop_dir, "Output directory")->required();
  gen->add_option("--items", shop.items, "Catalog size")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  gen->add_option("--users", shop.users, "Customers")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  gen->add_option("--interactions", shop.interactions, "Interaction rows")->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  gen->add_option("--categories", shop.categories, "Categories")->capture_default_str()
      ->check(CLI::Range(1, 100000));
  gen->add_option("--seed", shop.seed, "Random seed (same seed, same files)")->capture_default_str();
  gen->add_option("--days", shop.days, "Time window in days")->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  gen->add_flag("--truth", shop.write_truth,
                "Also write truth.csv: the generator's own purchase propensities (for benchmarks)");

  std::string ml_in, ml_out;
  auto* ml = app.add_subcommand(
      "convert-movielens",
      "Convert MovieLens movies.csv + ratings.csv into upload CSVs (non-commercial licence)");
  ml->add_option("--in", ml_in, "Directory with movies.csv and ratings.csv")->required();
  ml->add_option("--out", ml_out, "Output directory")->required();

  embedrec::app::TrainCommand train;
  CLI::App* train_cmd = nullptr;
  embedrec::app::AddTrainCommand(app, &train, &train_cmd);

  CLI11_PARSE(app, argc, argv);
  if (*train_cmd) return embedrec::app::RunTrain(std::move(train));
  if (*ml) {
    auto st = embedrec::datagen::ConvertMovielens(ml_in, ml_out);
    if (!st.ok()) {
      std::fprintf(stderr, "embedrec: %s\n", st.status().message().c_str());
      return 1;
    }
    std::printf("{\"items\":%lld,\"ratings\":%lld,\"ratings_raised_to_1\":%lld}\n",
                static_cast<long long>(st->items), static_cast<long long>(st->ratings),
                static_cast<long long>(st->ratings_raised_to_1));
    return 0;
  }
  if (*version) {
    std::printf("embedrec %s (%s)\n", embedrec::kVersion, embedrec::kGitSha);
    return 0;
  }
  if (*serve) return Serve(config);
  if (*gen) {
    auto stats = embedrec::datagen::GenerateShop(shop, shop_dir);
    if (!stats.ok()) {
      std::fprintf(stderr, "embedrec: %s\n", stats.status().message().c_str());
      return 1;
    }
    std::printf("{\"items\":%lld,\"interactions\":%lld,\"views\":%lld,\"add_to_cart\":%lld,"
                "\"purchases\":%lld}\n",
                static_cast<long long>(stats->items), static_cast<long long>(stats->interactions),
                static_cast<long long>(stats->views), static_cast<long long>(stats->carts),
                static_cast<long long>(stats->purchases));
    return 0;
  }
  return 0;
}
