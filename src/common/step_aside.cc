#include "common/step_aside.h"

#include <algorithm>
#include <thread>

namespace embedrec {

StepAside::StepAside(Waiting waiting, std::chrono::milliseconds max_pause)
    : waiting_(std::move(waiting)), max_pause_(max_pause), last_(std::chrono::steady_clock::now()) {}

void StepAside::Between() {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  if (waiting_ && waiting_()) {
    const auto worked = start - last_;
    const auto allowed = std::min<Clock::duration>(
        std::chrono::duration_cast<Clock::duration>(worked * kMaxRatio), max_pause_);
    auto now = start;
    while (now - start < allowed && waiting_()) {
      std::this_thread::sleep_for(kNap);
      now = Clock::now();
    }
    paused_ += now - start;
    last_ = now;
    return;
  }
  last_ = start;
}

}  // namespace embedrec
