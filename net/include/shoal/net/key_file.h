// The pre-shared key every worker and master of a cluster holds (--key-file).
#ifndef SHOAL_NET_KEY_FILE_H_
#define SHOAL_NET_KEY_FILE_H_

#include <string>

#include "shoal/status.h"

namespace shoal::net {

// A pre-shared key file: its bytes, trailing whitespace dropped; at least 16 of them, and
// no file larger than 4 KiB.
Result<std::string> load_key_file(const std::string& path);

}  // namespace shoal::net

#endif  // SHOAL_NET_KEY_FILE_H_
