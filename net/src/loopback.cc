// An in-memory byte stream for protocol and scheduler tests: no sockets, same semantics.
#include <condition_variable>
#include <deque>
#include <mutex>

#include "shoal/net/connection.h"

namespace shoal::net {
namespace {

struct Pipe {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<uint8_t> bytes;
  bool closed = false;
};

class LoopbackConnection final : public Connection {
 public:
  LoopbackConnection(std::shared_ptr<Pipe> in, std::shared_ptr<Pipe> out, std::string name)
      : in_(std::move(in)), out_(std::move(out)), name_(std::move(name)) {}
  ~LoopbackConnection() override { shutdown(); }

  Status write_all(const void* data, size_t size) override {
    std::lock_guard<std::mutex> lock(out_->mu);
    if (out_->closed) return Status(StatusCode::kIo, "loopback connection closed");
    const auto* p = static_cast<const uint8_t*>(data);
    out_->bytes.insert(out_->bytes.end(), p, p + size);
    out_->cv.notify_all();
    return Status::ok();
  }

  Status read_exact(void* data, size_t size) override {
    auto* p = static_cast<uint8_t*>(data);
    std::unique_lock<std::mutex> lock(in_->mu);
    while (size > 0) {
      in_->cv.wait(lock, [&] { return !in_->bytes.empty() || in_->closed; });
      if (in_->bytes.empty()) return Status(StatusCode::kIo, "loopback connection closed");
      const size_t n = std::min(size, in_->bytes.size());
      std::copy(in_->bytes.begin(), in_->bytes.begin() + static_cast<long>(n), p);
      in_->bytes.erase(in_->bytes.begin(), in_->bytes.begin() + static_cast<long>(n));
      p += n;
      size -= n;
    }
    return Status::ok();
  }

  void shutdown() override {
    for (Pipe* pipe : {in_.get(), out_.get()}) {
      std::lock_guard<std::mutex> lock(pipe->mu);
      pipe->closed = true;
      pipe->cv.notify_all();
    }
  }

  std::string peer() const override { return name_; }

 private:
  std::shared_ptr<Pipe> in_, out_;
  std::string name_;
};

}  // namespace

std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> loopback_pair() {
  auto a = std::make_shared<Pipe>(), b = std::make_shared<Pipe>();
  return {std::make_unique<LoopbackConnection>(a, b, "loopback-a"),
          std::make_unique<LoopbackConnection>(b, a, "loopback-b")};
}

}  // namespace shoal::net
