#include <algorithm>

#include "shoal/policy.h"

namespace shoal {

uint32_t InputState::pending() const {
  uint32_t n = 0;
  for (const Sent& s : units_) n += s.state == UnitState::kPending;
  return n;
}

uint32_t InputState::pending_in(uint32_t stage) const {
  uint32_t n = 0;
  for (const Sent& s : units_) n += s.state == UnitState::kPending && s.unit.stage == stage;
  return n;
}

uint32_t InputState::succeeded_in(uint32_t stage) const {
  uint32_t n = 0;
  for (const Sent& s : units_) n += s.state == UnitState::kDone && s.unit.final() && s.unit.stage == stage;
  return n;
}

uint32_t InputState::last_stage() const {
  uint32_t stage = 0;
  for (const Sent& s : units_) stage = std::max(stage, s.unit.stage);
  return stage;
}

uint32_t InputState::top_stage() const {
  uint32_t stage = 0;
  for (const Sent& s : units_) {
    if (s.state == UnitState::kDone && s.unit.final()) stage = std::max(stage, s.unit.stage);
  }
  return stage;
}

bool InputState::fused(uint32_t stage, std::vector<float>* out) const {
  out->assign(classes_, 0.0f);
  uint32_t n = 0;
  for (const Sent& s : units_) {
    if (s.state != UnitState::kDone || !s.unit.final() || s.unit.stage != stage) continue;
    for (uint32_t c = 0; c < classes_; ++c) (*out)[c] += s.output[c];
    ++n;
  }
  if (n == 0) return false;
  for (float& p : *out) p /= static_cast<float>(n);
  return true;
}

float InputState::confidence(uint32_t stage) const {
  std::vector<float> p;
  if (!fused(stage, &p)) return 0.0f;
  return *std::max_element(p.begin(), p.end());
}

}  // namespace shoal
