#include "shoal/net/worker_link.h"

#include <algorithm>

#include "shoal/net/handshake.h"
#include "shoal/version.h"

namespace shoal::net {
namespace {

// What a request's budget travels as: microseconds, at most about 71 minutes.
uint32_t budget_us(double budget_ms) { return static_cast<uint32_t>(std::min(std::max(0.0, budget_ms) * 1000.0, 4.0e9)); }

}  // namespace

WorkerLink::WorkerLink(std::string address, Dialer& dialer, LinkOptions options)
    : address_(std::move(address)), dialer_(dialer), options_(std::move(options)) {}

WorkerLink::~WorkerLink() { close(); }

Status WorkerLink::open(OnFrame on_frame, OnClosed on_closed, int handshake_timeout_ms) {
  auto dialled = dialer_.dial(address_, options_.connect_timeout_ms);
  if (!dialled.is_ok()) return dialled.status();
  std::shared_ptr<Connection> connection(std::move(dialled.value()));
  connection->set_key(options_.key);
  WorkerInfo hello;
  hello.software = "shoal " SHOAL_VERSION;
  auto info = dial_handshake(*connection, hello, handshake_timeout_ms > 0 ? handshake_timeout_ms : options_.handshake_timeout_ms);
  if (!info.is_ok()) return info.status();
  if (info->subnets.empty()) return Status(StatusCode::kInvalidArgument, address_ + " serves no subnets");
  if (!info_.subnets.empty()) {  // a reconnect: the worker must serve what it served
    bool same = info->subnets.size() == info_.subnets.size() && info->member == info_.member && info->cuts == info_.cuts;
    for (size_t s = 0; same && s < info->subnets.size(); ++s) same = info->subnets[s].name == info_.subnets[s].name;
    if (!same) return Status(StatusCode::kInvalidArgument, address_ + " came back serving something else");
  }
  if (reader_.joinable()) reader_.join();  // the old reader has ended (it said so)
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return Status(StatusCode::kIo, "the link is closing");
  info_ = std::move(info.value());
  connection_ = connection;
  reader_ = std::thread([this, connection, on_frame = std::move(on_frame), on_closed = std::move(on_closed)] {
    Frame f;
    for (;;) {
      const Status st = read_frame(*connection, options_.limits, &f);
      if (st.is_ok()) {
        on_frame(f);
      } else if (!(connection->datagrams() && st.code() == StatusCode::kCorrupt)) {
        break;  // over UDP a bad frame costs its datagram; otherwise the stream is lost
      }
    }
    connection->shutdown();
    bool closing;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (connection_ == connection) connection_.reset();
      closing = closing_;
    }
    if (!closing) on_closed();
  });
  return Status::ok();
}

bool WorkerLink::up() const { return current() != nullptr; }

std::shared_ptr<Connection> WorkerLink::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connection_;
}

Status WorkerLink::send_request(uint64_t id, uint32_t subnet, double budget_ms, const uint8_t* image, size_t size) {
  return send_segment(id, subnet, budget_ms, SegmentRequest{}, image, size);
}

Status WorkerLink::send_segment(uint64_t id, uint32_t subnet, double budget_ms, const SegmentRequest& segment,
                                const uint8_t* image, size_t size) {
  const std::shared_ptr<Connection> c = current();
  if (!c) return Status(StatusCode::kIo, address_ + " is down");
  return send_segment_request(*c, id, subnet, budget_us(budget_ms), segment, image, size, options_.reply_top_k);
}

Status WorkerLink::send_share(uint64_t id, uint32_t subnet, double budget_ms, const ShareRequest& share) {
  const std::shared_ptr<Connection> c = current();
  if (!c) return Status(StatusCode::kIo, address_ + " is down");
  return send_share_request(*c, id, subnet, budget_us(budget_ms), share);
}

Status WorkerLink::send_heartbeat(uint64_t id) {
  const std::shared_ptr<Connection> c = current();
  if (!c) return Status(StatusCode::kIo, address_ + " is down");
  return write_frame(*c, wire::MessageType::Heartbeat, id, nullptr, 0);
}

void WorkerLink::drop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (connection_) connection_->shutdown();
}

void WorkerLink::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    if (connection_) connection_->shutdown();
  }
  if (reader_.joinable()) reader_.join();
}

}  // namespace shoal::net
