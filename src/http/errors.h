// Status → HTTP, in exactly one place, and the JSON shapes of answers.
//
// Every non-2xx answer is
//   {"error": {"code": "snake_case", "message": "...", "details": {...}}}
// with details always carrying "request_id". Internal errors never leak their
// message: the client gets the request id, the log gets the detail.
#pragma once

#include <string>

#include "common/status.h"
#include "http/request.h"

namespace embedrec::http {

int HttpStatusFor(StatusCode code);

// A JSON answer with the given status and serialized body.
Response JsonResponse(int status, std::string body);

// The error answer for a non-OK status (logs internal errors with the request id).
Response ErrorResponse(const Status& status, const std::string& request_id);

}  // namespace embedrec::http
