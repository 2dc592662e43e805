// Boost's assertions in the fuzz build (BOOST_ENABLE_ASSERT_HANDLER): each
// aborts, as BOOST_ASSERT does, but one that Beast 1.81 states wrongly:
// `n >= 5` in basic_parser::parse_chunk_header, which a final chunk arriving
// in pieces ("0\r\n", then "\r", then "\n") reaches with fewer bytes and
// then handles correctly (need_more). Upstream relaxed it
// (boostorg/beast#2861, in Boost 1.86); the main build compiles assertions
// out (NDEBUG), so the server never stopped on it.
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (std::string_view(expr) == "n >= 5" && std::string_view(file).ends_with("beast/http/impl/basic_parser.ipp")) {
    return;
  }
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file, long line) {
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost
