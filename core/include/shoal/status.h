// Errors without exceptions: a Status is a code and a plain-language message that says
// what went wrong and, where it can, what to do. Result<T> is a value or a Status.
// An ok Status holds an empty string and never allocates.
#ifndef SHOAL_STATUS_H_
#define SHOAL_STATUS_H_

#include <optional>
#include <string>
#include <utility>

namespace shoal {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller asked for something that cannot be (unknown subnet, bad size)
  kNotFound,         // a file or a name does not exist
  kCorrupt,          // bytes from a file or a peer failed verification
  kUnsupported,      // valid but not something this build can do (newer version, unknown op)
  kIo,               // the operating system refused (open, read, write), or a peer went away
  kTimeout,          // a peer did not answer in time
  kBusy,             // a queue or buffer is full; try again later or elsewhere
  kOutOfMemory,      // an allocation failed (an engine, a backend's weights or device memory)
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corrupt: weight buffer 3 holds 12 bytes, node conv1 needs 576"
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool is_ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace shoal

#define SHOAL_RETURN_IF_ERROR(expr)            \
  do {                                         \
    ::shoal::Status shoal_status_ = (expr);    \
    if (!shoal_status_.is_ok()) return shoal_status_; \
  } while (0)

#endif  // SHOAL_STATUS_H_
