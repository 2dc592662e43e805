#include "http/request.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace embedrec::http {

std::string_view Request::Header(std::string_view name_lower) const {
  for (const auto& [k, v] : headers) {
    if (k == name_lower) return v;
  }
  return {};
}

std::optional<std::string> Request::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

bool ParseTarget(std::string_view target, std::string* path, Fields* query, std::string* encoded_path) {
  auto r = boost::urls::parse_origin_form(target);
  if (!r) return false;
  const boost::urls::url_view& u = *r;
  *path = u.path();  // decoded
  if (path->empty()) *path = "/";
  if (encoded_path) {
    *encoded_path = u.encoded_path();
    if (encoded_path->empty()) *encoded_path = "/";
  }
  query->clear();
  for (auto p : u.params()) {  // decoded view ('+' is not a space in origin form)
    query->emplace_back(std::string(p.key), p.has_value ? std::string(p.value) : std::string());
  }
  return true;
}

std::string DecodeSegment(std::string_view segment) {
  auto s = boost::urls::make_pct_string_view(segment);
  return s ? s->decode() : std::string(segment);
}

Response Later(std::function<void(std::function<void(Response)>)> start) {
  Response r;
  r.later = std::move(start);
  return r;
}

}  // namespace embedrec::http
