// JSON request bodies: the parser every route's body goes through
// (http::ParseJsonBody: depth and UTF-8 limits), the route's declared schema
// (common/json_schema.h) for every route of the API inventory
// (docs/openapi.json, which a unit test keeps equal to the route table), and
// the typed readers behind the richest bodies: training jobs over a tenant's
// settings, and retraining settings. Properties: a valid body is an object;
// a job request read back from what it applied is the same request.
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/json_schema.h"
#include "common/json_text.h"
#include "fuzz_input.h"
#include "http/declared.h"
#include "training/job_request.h"
#include "training/retrain_policy.h"

namespace {
namespace json = boost::json;
using embedrec::JsonSchema;

std::vector<JsonSchema>* schemas = nullptr;  // the request bodies of every route

void LoadSchemas() {
  const char* path = std::getenv("EMBEDREC_OPENAPI");
  std::ifstream f(path ? path : EMBEDREC_OPENAPI_DEFAULT);
  std::stringstream text;
  text << f.rdbuf();
  json::value doc = json::parse(text.str());
  schemas = new std::vector<JsonSchema>;
  for (auto& [path_name, ops] : doc.at("paths").as_object()) {
    for (auto& [method, op] : ops.as_object()) {
      const auto* body = op.as_object().if_contains("requestBody");
      if (!body) continue;
      const auto* media = body->at("content").as_object().if_contains("application/json");
      if (!media) continue;
      auto schema = JsonSchema::Parse(json::serialize(media->at("schema")));
      if (!schema.ok()) {
        std::fprintf(stderr, "bad schema for %s %s\n", std::string(method).c_str(), std::string(path_name).c_str());
        std::abort();
      }
      schemas->push_back(std::move(schema).value());
    }
  }
  if (schemas->size() < 10) {
    std::fprintf(stderr, "only %zu request bodies in the API inventory\n", schemas->size());
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  LoadSchemas();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embedrec::fuzz::Input in(data, size);
  const uint8_t choice = in.Byte();
  embedrec::http::Request req;
  // Job requests: "settings JSON\x01body"; everything else: the body.
  std::string_view settings = choice % 4 == 1 ? in.Until('\x01') : std::string_view("{}");
  req.body = std::string(in.rest());
  auto body = embedrec::http::ParseJsonBody(req, /*allow_empty=*/choice & 0x80);
  if (!body.ok()) return 0;
  // The route's declared schema, whichever it is; its verdict is not needed.
  (void)(*schemas)[choice % schemas->size()].Validate(*body);
  switch (choice % 4) {
    case 1: {
      auto r = embedrec::training::ParseJobRequest(*body, std::string(settings));
      if (r.ok()) {
        json::object applied = embedrec::training::RequestJson(*r);
        auto again = embedrec::training::ParseJobRequest(applied, "{}");
        embedrec::fuzz::Check(again.ok());
        embedrec::fuzz::Check(embedrec::JsonText(embedrec::training::RequestJson(*again)) ==
                              embedrec::JsonText(applied));
      }
      break;
    }
    case 2:
      (void)embedrec::training::ParseRetrainSettings(*body);
      break;
    default:
      break;
  }
  return 0;
}
