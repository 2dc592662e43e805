#include "http/errors.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace embedrec::http {
namespace {
namespace json = boost::json;

TEST(ErrorsTest, MapsEveryCodeToItsHttpStatus) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kMethodNotAllowed), 405);
  EXPECT_EQ(HttpStatusFor(StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(StatusCode::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnprocessable), 422);
  EXPECT_EQ(HttpStatusFor(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
}

TEST(ErrorsTest, BodyHasCodeMessageAndDetailsWithRequestId) {
  Response r = ErrorResponse(Status::Unprocessable("bad slug", {{"field", "slug"}}), "req_1");
  EXPECT_EQ(r.status, 422);
  auto v = json::parse(r.body).as_object().at("error").as_object();
  EXPECT_EQ(v.at("code"), "validation_failed");
  EXPECT_EQ(v.at("message"), "bad slug");
  EXPECT_EQ(v.at("details").as_object().at("field"), "slug");
  EXPECT_EQ(v.at("details").as_object().at("request_id"), "req_1");
}

TEST(ErrorsTest, InternalErrorsDoNotLeakTheirMessage) {
  Response r = ErrorResponse(Status::Internal("disk /var/secret failed"), "req_2");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("/var/secret"), std::string::npos);
  EXPECT_NE(r.body.find("req_2"), std::string::npos);
}

TEST(ErrorsTest, ThrottledAnswerCarriesRetryAfter) {
  Response r = ErrorResponse(
      Status::ResourceExhausted("slow down", {{"retry_after_seconds", "30"}}), "req_3");
  EXPECT_EQ(r.status, 429);
  bool found = false;
  for (auto& [k, v] : r.headers) found |= (k == "Retry-After" && v == "30");
  EXPECT_TRUE(found);
}

TEST(ErrorsTest, ABusyStoreAnswers503WithRetryAfterAndItsReason) {
  Response r = ErrorResponse(Status(StatusCode::kUnavailable, "the data is busy", "busy",
                                    {{"retry_after_seconds", "5"}}),
                             "req_4");
  EXPECT_EQ(r.status, 503);
  bool found = false;
  for (auto& [k, v] : r.headers) found |= (k == "Retry-After" && v == "5");
  EXPECT_TRUE(found);
  EXPECT_NE(r.body.find(R"("code":"busy")"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace embedrec::http
