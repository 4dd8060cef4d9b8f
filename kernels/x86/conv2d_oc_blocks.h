// The x86 convolution, written once over a vector type `V` (AVX2: 8 lanes, AVX-512: 16) and
// compiled per ISA with that file's flags. Output channels are vector lanes: a block of
// `V::kLanes` output channels for a row tile of `kTile` output pixels accumulates in
// registers; each input channel is broadcast and multiplied with the block's packed weights.
// Lanes outside the active output range are computed and never stored; every load outside
// the active range is masked, so nothing past a buffer is touched.
#ifndef SHOAL_KERNELS_X86_CONV2D_OC_BLOCKS_H_
#define SHOAL_KERNELS_X86_CONV2D_OC_BLOCKS_H_

#include <stddef.h>
#include <stdint.h>

#include "shoal/kernels/params.h"

namespace shoal::x86 {

template <typename V, uint32_t kTile>
struct Conv2dOcBlocks {
  using Reg = typename V::Reg;
  static constexpr uint32_t kLanes = V::kLanes;

  static void run(const shoal_conv2d_params* p, const float* x, const float* w, const float* scale,
                  const float* shift, float* y) {
    const shoal_window& k = p->win;
    const size_t tap_floats = size_t{p->w_in_stride} * kLanes;
    const size_t block_floats = size_t{k.kernel_h} * k.kernel_w * tap_floats;
    const uint32_t first_block = p->out.lo / kLanes, end_block = (p->out.hi + kLanes - 1) / kLanes;
    // Block outermost: one block's weights (taps x input channels x lanes) stay in cache
    // while every output pixel uses them.
    for (uint32_t b = first_block; b < end_block; ++b) {
      const float* wb = w + b * block_floats;
      for (uint32_t oy = 0; oy < p->out.h; ++oy) {
        uint32_t ox = 0;
        // Tiles whose every tap is inside the input horizontally take the fast path.
        for (; ox + kTile <= p->out.w; ox += kTile) {
          const int64_t ix_first = int64_t{ox} * k.stride_w - k.pad_left;
          const int64_t ix_last =
              int64_t{ox + kTile - 1} * k.stride_w - k.pad_left + int64_t{k.kernel_w - 1} * k.dilation_w;
          if (ix_first < 0 || ix_last >= p->in.w) break;
          tile<kTile>(p, x, wb, scale, shift, y, oy, ox, b);
        }
        for (; ox < p->out.w; ++ox) tile<1>(p, x, wb, scale, shift, y, oy, ox, b);
      }
    }
  }

  template <uint32_t kPixels>
  static void tile(const shoal_conv2d_params* p, const float* x, const float* wb, const float* scale,
                   const float* shift, float* y, uint32_t oy, uint32_t ox, uint32_t b) {
    const shoal_window& k = p->win;
    const size_t tap_floats = size_t{p->w_in_stride} * kLanes;
    const uint32_t c0 = b * kLanes;
    const uint32_t lane_lo = p->out.lo > c0 ? p->out.lo - c0 : 0;
    const uint32_t lane_hi = p->out.hi - c0 < kLanes ? p->out.hi - c0 : kLanes;
    Reg acc[kPixels];
    for (uint32_t r = 0; r < kPixels; ++r) acc[r] = V::zero();
    for (uint32_t ky = 0; ky < k.kernel_h; ++ky) {
      const int64_t iy = int64_t{oy} * k.stride_h - k.pad_top + int64_t{ky} * k.dilation_h;
      if (iy < 0 || iy >= p->in.h) continue;
      const float* row = x + size_t(iy) * p->in.w * p->in.stride;
      for (uint32_t kx = 0; kx < k.kernel_w; ++kx) {
        int64_t ix[kPixels];
        bool inside = true;  // always, for kPixels > 1 (run() checked the tile)
        for (uint32_t r = 0; r < kPixels; ++r) {
          ix[r] = int64_t{ox + r} * k.stride_w - k.pad_left + int64_t{kx} * k.dilation_w;
          inside = inside && ix[r] >= 0 && ix[r] < p->in.w;
        }
        if (!inside) continue;
        const float* xp[kPixels];
        for (uint32_t r = 0; r < kPixels; ++r) xp[r] = row + size_t(ix[r]) * p->in.stride;
        const float* wt = wb + (size_t{ky} * k.kernel_w + kx) * tap_floats;
        if (p->depthwise) {
          const Reg wv = V::load(wt);
          for (uint32_t r = 0; r < kPixels; ++r) {
            acc[r] = V::fma(V::load_lanes(xp[r] + c0, lane_lo, lane_hi), wv, acc[r]);
          }
          continue;
        }
        for (uint32_t ci = p->in.lo; ci < p->in.hi; ++ci) {
          const Reg wv = V::load(wt + size_t{ci} * kLanes);
          for (uint32_t r = 0; r < kPixels; ++r) acc[r] = V::fma(V::broadcast(xp[r][ci]), wv, acc[r]);
        }
      }
    }
    const Reg s = scale ? V::load_lanes(scale + c0, lane_lo, lane_hi) : V::set1(1.0f);
    const Reg t = shift ? V::load_lanes(shift + c0, lane_lo, lane_hi) : V::zero();
    for (uint32_t r = 0; r < kPixels; ++r) {
      Reg v = V::fma(acc[r], s, t);
      if (p->activation != SHOAL_ACT_NONE) v = V::max(v, V::zero());
      if (p->activation == SHOAL_ACT_RELU6) v = V::min(v, V::set1(6.0f));
      V::store_lanes(y + (size_t{oy} * p->out.w + ox + r) * p->out.stride + c0, v, lane_lo, lane_hi);
    }
  }
};

}  // namespace shoal::x86

#endif  // SHOAL_KERNELS_X86_CONV2D_OC_BLOCKS_H_
