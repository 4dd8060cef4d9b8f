// XNNPACK (Debian libxnnpack-dev, its 2022 API) as an engine backend: one XNNPACK operator per
// layer and sub-network, created when the engine is. Built with SHOAL_WITH_XNNPACK.
#ifndef SHOAL_CORE_BACKENDS_XNNPACK_XNNPACK_BACKEND_H_
#define SHOAL_CORE_BACKENDS_XNNPACK_XNNPACK_BACKEND_H_

#include "shoal/backend.h"

namespace shoal {

const Backend& xnnpack_backend();

}  // namespace shoal

#endif  // SHOAL_CORE_BACKENDS_XNNPACK_XNNPACK_BACKEND_H_
