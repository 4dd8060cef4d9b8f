// A small JSON writer (--json output, a master's /status): values are written in order,
// commas handled, strings escaped.
#ifndef SHOAL_JSON_H_
#define SHOAL_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

namespace shoal {

class Json {
 public:
  Json& begin_object();
  Json& end_object();
  Json& begin_array();
  Json& end_array();
  Json& key(const std::string& k);
  Json& value(const std::string& v);
  Json& value(const char* v) { return value(std::string(v)); }
  Json& value(double v);
  Json& value(uint64_t v);
  Json& value(int v) { return value(static_cast<double>(v)); }
  Json& value(uint32_t v) { return value(static_cast<uint64_t>(v)); }
  Json& value(bool v);
  template <typename T>
  Json& field(const std::string& k, const T& v) { return key(k).value(v); }
  const std::string& str() const { return out_; }

 private:
  void separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written yet
  bool after_key_ = false;
};

}  // namespace shoal

#endif  // SHOAL_JSON_H_
