// Status and StatusOr<T>: how every fallible call in Tessera reports failure.
//
// A Status is OK or carries a code and a message. Messages say what went
// wrong, where, what was expected and what was found; callers add context as
// the error travels up (WithContext), so a user reads e.g.
//   node 12 'enc/lstm_0' (LSTM v14): input 'X' has dtype f16, expected f32
// Exceptions never leave Tessera: the C API and the executor turn them into a
// Status.
#ifndef TESSERA_RUNTIME_CORE_STATUS_H_
#define TESSERA_RUNTIME_CORE_STATUS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace tessera {

// Values are part of the C API (TSR_ERR_* in tessera.h); append only.
enum class StatusCode : int32_t {
  kOk = 0,
  kInvalidArgument = 1,  // the caller passed something wrong (shape, dtype, name)
  kInvalidModel = 2,     // the model file is corrupt, hostile or inconsistent
  kNotFound = 3,         // a file, input, output or op does not exist
  kUnimplemented = 4,    // valid request that this build does not support
  kResourceExhausted = 5,  // a limit or an allocation failed
  kInternal = 6,         // a bug in Tessera
  kIoError = 7,          // reading or writing a file failed
  kCancelled = 8,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return ok() ? StatusCode::kOk : state_->code; }
  const std::string& message() const;

  // Returns this status with `context + ": "` put before the message.
  Status WithContext(const std::string& context) const;

  // "invalid model: <message>"; "OK" when ok.
  std::string ToString() const;

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  // Null when OK, so the success path costs one pointer.
  std::shared_ptr<const State> state_;
};

// Builds a message from streamable parts: Error(kInvalidModel, "tensor ", i, " ...").
template <typename... Args>
Status Error(StatusCode code, const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return Status(code, os.str());
}

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design
  StatusOr(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace tessera

#define TSR_CONCAT_INNER_(a, b) a##b
#define TSR_CONCAT_(a, b) TSR_CONCAT_INNER_(a, b)

#define TSR_RETURN_IF_ERROR(expr)                    \
  do {                                               \
    ::tessera::Status tsr_status_ = (expr);          \
    if (!tsr_status_.ok()) return tsr_status_;       \
  } while (0)

#define TSR_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

// TSR_ASSIGN_OR_RETURN(auto x, MakeX());
#define TSR_ASSIGN_OR_RETURN(lhs, expr) \
  TSR_ASSIGN_OR_RETURN_IMPL_(TSR_CONCAT_(tsr_statusor_, __LINE__), lhs, expr)

// For invariants that earlier validation already guarantees; never for user input.
#ifdef NDEBUG
#define TSR_DCHECK(cond) ((void)0)
#else
#include <cstdio>
#include <cstdlib>
#define TSR_DCHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "%s:%d: TSR_DCHECK failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                    \
      std::abort();                                                           \
    }                                                                         \
  } while (0)
#endif

#endif  // TESSERA_RUNTIME_CORE_STATUS_H_
