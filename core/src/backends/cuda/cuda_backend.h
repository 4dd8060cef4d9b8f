// shoal's CUDA kernels (kernels/cuda/) as an engine backend: device memory of its own (the
// arena and one full-width copy of each layer's weights, shared by every subnet), one stream
// per engine, launches enqueued per layer. Built with SHOAL_WITH_CUDA; listed only where a
// CUDA device is present.
#ifndef SHOAL_CORE_BACKENDS_CUDA_CUDA_BACKEND_H_
#define SHOAL_CORE_BACKENDS_CUDA_CUDA_BACKEND_H_

#include "shoal/backend.h"

namespace shoal {

const Backend& cuda_backend();
// Whether this process sees a CUDA device (checked once).
bool cuda_device_present();

}  // namespace shoal

#endif  // SHOAL_CORE_BACKENDS_CUDA_CUDA_BACKEND_H_
