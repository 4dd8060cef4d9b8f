#include "shoal/net/fault_network.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "shoal/net/fault_wire.h"
#include "shoal/net/udp.h"

namespace shoal::net {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kHeldCap = 4u << 20;  // bytes a partition holds before it stops reading

}  // namespace

struct FaultNetwork::Relay {
  std::string address;
  std::unique_ptr<Connection> near, far;  // near: the socketpair end facing the dialler
  std::thread down, up;
  std::atomic<int> running{2};
  std::atomic<bool> stopping{false};

  void end() {
    stopping = true;
    near->shutdown();
    far->shutdown();
  }
  void join() {
    if (down.joinable()) down.join();
    if (up.joinable()) up.join();
  }
};

FaultNetwork::FaultNetwork(Dialer& inner, uint64_t seed)
    : inner_(inner), default_plan_(std::make_shared<FaultPlan>()), seed_(seed) {}

FaultNetwork::~FaultNetwork() {
  std::vector<std::unique_ptr<Relay>> relays;
  {
    std::lock_guard<std::mutex> lock(mu_);
    relays.swap(relays_);
  }
  for (auto& r : relays) r->end();
  for (auto& r : relays) r->join();
}

std::shared_ptr<const FaultPlan> FaultNetwork::plan_for(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = plans_.find(address);
  return it == plans_.end() ? default_plan_ : it->second;
}

void FaultNetwork::set(const std::string& address, const FaultPlan& plan) {
  std::lock_guard<std::mutex> lock(mu_);
  plans_[address] = std::make_shared<FaultPlan>(plan);
}

void FaultNetwork::set_all(const FaultPlan& plan) {
  std::lock_guard<std::mutex> lock(mu_);
  plans_.clear();
  default_plan_ = std::make_shared<FaultPlan>(plan);
}

void FaultNetwork::cut(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& r : relays_) {
    if (r->address == address) {
      r->near->shutdown();
      r->far->shutdown();
    }
  }
}

Result<std::unique_ptr<Connection>> FaultNetwork::dial(const std::string& address, int timeout_ms) {
  auto far = inner_.dial(address, timeout_ms);
  if (!far.is_ok()) return far.status();
  const bool datagrams = far.value()->datagrams();
  auto [mine, near] = datagrams ? datagram_pair() : loopback_pair();
  if (!mine) return Status(StatusCode::kIo, "cannot connect to " + address + ": no socketpair (out of descriptors?)");
  auto relay = std::make_unique<Relay>();
  relay->address = address;
  relay->near = std::move(near);
  relay->far = std::move(far.value());
  Relay* r = relay.get();
  uint64_t seed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Relays whose both directions have ended are joined and forgotten.
    for (auto it = relays_.begin(); it != relays_.end();) {
      if ((*it)->running == 0) {
        (*it)->join();
        it = relays_.erase(it);
      } else {
        ++it;
      }
    }
    seed = seed_++;
  }
  // One direction: read what comes, give each chunk its release time, pass it on when due.
  auto pump = [this, r, datagrams](Connection& from, Connection& to, uint64_t chunk_seed) {
    std::mt19937_64 rng(chunk_seed);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    FaultWire wire(!datagrams);
    Clock::time_point wire_free = Clock::now();
    std::vector<uint8_t> buffer(datagrams ? (1u << 20) + 4096 : 64u << 10);
    while (!r->stopping) {
      const std::shared_ptr<const FaultPlan> plan = plan_for(r->address);
      const auto now = Clock::now();
      bool failed = false;
      while (!plan->partitioned && !wire.empty() && wire.next_at() <= now) {
        const std::vector<uint8_t> bytes = wire.take_front();
        if ((failed = !to.write_all(bytes.data(), bytes.size()).is_ok())) break;
      }
      if (failed) break;
      int wait_ms = 5;
      if (!plan->partitioned && !wire.empty()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(wire.next_at() - now).count();
        wait_ms = static_cast<int>(std::clamp<long long>(left, 0, 5));
      }
      if (wire.bytes() >= kHeldCap) {  // full: stop reading, as a full socket buffer would
        std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
        continue;
      }
      if (datagrams) {  // one whole message (a frame) at a time
        const Status st = from.next_message(wait_ms);
        if (st.code() == StatusCode::kTimeout) continue;
        if (!st.is_ok()) break;
      }
      const Result<size_t> n = from.read_some(buffer.data(), buffer.size(), datagrams ? 0 : wait_ms);
      if (!n.is_ok()) {
        if (n.status().code() == StatusCode::kTimeout) continue;
        break;
      }
      uint32_t losses = 0;  // a stream's chunk is resent until a copy gets through
      while (plan->loss > 0 && losses < 8 && uniform(rng) < plan->loss) ++losses;
      if (losses > 0 && datagrams) continue;  // gone
      const double ms = plan->delay_ms + plan->jitter_ms * uniform(rng);
      Clock::time_point sent = Clock::now();
      if (plan->bandwidth_kbps > 0) {  // on the wire after the chunks before it, for its bits' time
        const double us = static_cast<double>(n.value()) * 8.0 * 1000.0 / plan->bandwidth_kbps;
        wire_free = std::max(wire_free, sent) + std::chrono::microseconds(static_cast<int64_t>(us));
        sent = wire_free;
      }
      const FaultWire::Recovery recovery{2 * plan->delay_ms + plan->jitter_ms, plan->retransmit_ms,
                                         plan->fast_recovery};
      wire.add(sent, sent + std::chrono::microseconds(static_cast<int64_t>(ms * 1000)), losses,
               std::vector<uint8_t>(buffer.begin(), buffer.begin() + static_cast<long>(n.value())), recovery);
    }
    from.shutdown();
    to.shutdown();
    --r->running;
  };
  relay->down = std::thread(pump, std::ref(*relay->near), std::ref(*relay->far), seed * 2);
  relay->up = std::thread(pump, std::ref(*relay->far), std::ref(*relay->near), seed * 2 + 1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    relays_.push_back(std::move(relay));
  }
  return std::move(mine);
}

}  // namespace shoal::net
