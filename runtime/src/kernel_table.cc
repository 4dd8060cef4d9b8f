#include "shoal/kernel_table.h"

#include "ref/ref.h"

namespace shoal {

const KernelTable& ref_kernels() {
  static const KernelTable table = {
      "ref",
      shoal_conv2d_nhwc_f32__ref,
      shoal_maxpool_nhwc_f32__ref,
      shoal_avgpool_nhwc_f32__ref,
      shoal_global_avgpool_nhwc_f32__ref,
      shoal_add_nhwc_f32__ref,
      shoal_activation_nhwc_f32__ref,
      shoal_softmax_nhwc_f32__ref,
  };
  return table;
}

}  // namespace shoal
