#ifndef SHOAL_KERNELS_REF_ACTIVATION_H_
#define SHOAL_KERNELS_REF_ACTIVATION_H_

#include "shoal/kernels/params.h"

static inline float shoal_apply_activation(float v, int32_t activation) {
  if (activation == SHOAL_ACT_RELU) return v > 0.0f ? v : 0.0f;
  if (activation == SHOAL_ACT_RELU6) return v > 0.0f ? (v < 6.0f ? v : 6.0f) : 0.0f;
  return v;
}

#endif  // SHOAL_KERNELS_REF_ACTIVATION_H_
