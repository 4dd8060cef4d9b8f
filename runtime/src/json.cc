#include "shoal/json.h"

#include <cmath>
#include <cstdio>

namespace shoal {

void Json::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

Json& Json::begin_object() { separate(); out_ += '{'; first_.push_back(true); return *this; }
Json& Json::end_object() { out_ += '}'; first_.pop_back(); return *this; }
Json& Json::begin_array() { separate(); out_ += '['; first_.push_back(true); return *this; }
Json& Json::end_array() { out_ += ']'; first_.pop_back(); return *this; }

Json& Json::key(const std::string& k) {
  value(k);
  out_ += ':';
  after_key_ = true;
  return *this;
}

Json& Json::value(const std::string& v) {
  separate();
  out_ += '"';
  for (unsigned char c : v) {
    if (c == '"' || c == '\\') {
      out_ += '\\';
      out_ += static_cast<char>(c);
    } else if (c < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), "\\u%04x", c);
      out_ += esc;
    } else {
      out_ += static_cast<char>(c);
    }
  }
  out_ += '"';
  return *this;
}

Json& Json::value(double v) {
  separate();
  if (!std::isfinite(v)) {
    out_ += "null";
    return *this;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", v);
  out_ += text;
  return *this;
}

Json& Json::value(uint64_t v) {
  separate();
  out_ += std::to_string(v);
  return *this;
}

Json& Json::value(bool v) {
  separate();
  out_ += v ? "true" : "false";
  return *this;
}

}  // namespace shoal
