// A first load made by one request while the others wait for it: the one
// that makes it holds a FirstLoad and publishes done() where the others look
// (under the owner's mutex); they wait on it, then look again. done() is
// signalled when the holder goes away, whatever happened to the load.
#pragma once

#include <future>

namespace embedrec::serving {

class FirstLoad {
 public:
  FirstLoad() : done_(promise_.get_future().share()) {}
  ~FirstLoad() { promise_.set_value(); }
  FirstLoad(const FirstLoad&) = delete;
  FirstLoad& operator=(const FirstLoad&) = delete;
  std::shared_future<void> done() const { return done_; }

 private:
  std::promise<void> promise_;
  std::shared_future<void> done_;
};

}  // namespace embedrec::serving
