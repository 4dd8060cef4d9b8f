// How the C APIs (shoal.h, shoal_cluster.h) report a failure: the code, and the message alone
// (the code's name is shoal_status_string's), truncated to fit shoal_error. For their
// implementations only.
#ifndef SHOAL_C_API_STATUS_H_
#define SHOAL_C_API_STATUS_H_

#include <cstdio>
#include <string>

#include "shoal.h"
#include "shoal/status.h"

namespace shoal::c_api {

static_assert(static_cast<int>(StatusCode::kOutOfMemory) == SHOAL_OUT_OF_MEMORY, "shoal_status follows StatusCode");

inline shoal_status fail(shoal_error* err, const Status& status) {
  const auto code = static_cast<shoal_status>(status.code());
  if (err) {
    err->code = code;
    std::snprintf(err->message, sizeof(err->message), "%s", status.message().c_str());
  }
  return code;
}

inline shoal_status fail(shoal_error* err, shoal_status code, const std::string& message) {
  return fail(err, Status(static_cast<StatusCode>(code), message));
}

inline shoal_status ok(shoal_error* err) {
  if (err) err->code = SHOAL_OK, err->message[0] = '\0';
  return SHOAL_OK;
}

}  // namespace shoal::c_api

#endif  // SHOAL_C_API_STATUS_H_
