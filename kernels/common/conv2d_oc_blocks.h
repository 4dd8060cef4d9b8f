// The SIMD convolution, written once over a vector type `V` (AVX2: 8 lanes, AVX-512: 16,
// NEON: 4) and compiled per ISA with that file's flags. Output channels are vector lanes: up to
// `kMaxBlocks` blocks of `V::kLanes` output channels for a row tile of `kTile` output pixels
// accumulate in registers (AVX-512: 5 x 4 = 20 of 32 registers; AVX2: 3 x 3 = 9 of 16, the
// shapes that measured fastest on ResNet-18); each input channel is broadcast once and
// multiplied with every block's packed weights.
// Lanes outside the active output range are computed and never stored; every load outside
// the active range is masked, so nothing past a buffer is touched.
#ifndef SHOAL_KERNELS_COMMON_CONV2D_OC_BLOCKS_H_
#define SHOAL_KERNELS_COMMON_CONV2D_OC_BLOCKS_H_

#include <stddef.h>
#include <stdint.h>

#include "shoal/kernels/params.h"

namespace shoal::simd {

template <typename V, uint32_t kMaxAcc, uint32_t kMaxBlocks>
struct Conv2dOcBlocks {
  using Reg = typename V::Reg;
  static constexpr uint32_t kLanes = V::kLanes;
  // Padding taps read this instead of the input (any channel index below its size).
  static constexpr uint32_t kZeroFloats = 4096;
  alignas(64) static inline const float zeros[kZeroFloats] = {};

  static constexpr uint32_t tile_for(uint32_t blocks) {
    return kMaxAcc / blocks < 12 ? kMaxAcc / blocks : 12;
  }

  static void run(const shoal_conv2d_params* p, const float* x, const float* w, const float* scale,
                  const float* shift, float* y) {
    const shoal_window& k = p->win;
    const size_t block_floats = size_t{k.kernel_h} * k.kernel_w * p->w_in_stride * kLanes;
    const uint32_t first_block = p->out.lo / kLanes, end_block = (p->out.hi + kLanes - 1) / kLanes;
    // Blocks outermost: a group of blocks' weights (taps x input channels x lanes) stays in
    // cache while every output pixel uses them. Several blocks per tile let each broadcast
    // input feed several FMAs.
    for (uint32_t b = first_block; b < end_block;) {
      const uint32_t n = end_block - b < kMaxBlocks ? end_block - b : kMaxBlocks;
      with_blocks<kMaxBlocks>(n, p, x, w + b * block_floats, block_floats, scale, shift, y, b);
      b += n;
    }
  }

  template <uint32_t kBlocks>
  static void with_blocks(uint32_t n, const shoal_conv2d_params* p, const float* x, const float* wb,
                          size_t block_floats, const float* scale, const float* shift, float* y, uint32_t b) {
    if constexpr (kBlocks > 1) {
      if (n < kBlocks) return with_blocks<kBlocks - 1>(n, p, x, wb, block_floats, scale, shift, y, b);
    }
    pixels<kBlocks>(p, x, wb, block_floats, scale, shift, y, b);
  }

  template <uint32_t kBlocks>
  static void pixels(const shoal_conv2d_params* p, const float* x, const float* wb, size_t block_floats,
                     const float* scale, const float* shift, float* y, uint32_t b) {
    constexpr uint32_t kTile = tile_for(kBlocks);
    const shoal_window& k = p->win;
    // Wide inputs (more channels than the zero row) take padded pixels one at a time.
    const bool zero_row = size_t{p->in.stride} + kLanes <= kZeroFloats;
    for (uint32_t oy = 0; oy < p->out.h; ++oy) {
      uint32_t ox = 0;
      if (zero_row) {
        // The row in tiles of nearly equal length (14 pixels as 7 + 7, not 12 + 2).
        const uint32_t tiles = (p->out.w + kTile - 1) / kTile;
        for (uint32_t t = 0; t < tiles; ++t) {
          const uint32_t n = p->out.w / tiles + (t < p->out.w % tiles ? 1 : 0);
          rest<kTile, kBlocks>(n, p, x, wb, block_floats, scale, shift, y, oy, ox, b);
          ox += n;
        }
        continue;
      }
      // Without the zero row: pixels whose window starts in the padding one at a time, full
      // tiles while every tap is inside, and the rest of the row one at a time.
      for (; ox < p->out.w && int64_t{ox} * k.stride_w < int64_t{k.pad_left}; ++ox) {
        tile<1, kBlocks>(p, x, wb, block_floats, scale, shift, y, oy, ox, b);
      }
      for (; ox + kTile <= p->out.w; ox += kTile) {
        const int64_t ix_last =
            int64_t{ox + kTile - 1} * k.stride_w - k.pad_left + int64_t{k.kernel_w - 1} * k.dilation_w;
        if (ix_last >= p->in.w) break;
        tile<kTile, kBlocks>(p, x, wb, block_floats, scale, shift, y, oy, ox, b);
      }
      for (; ox < p->out.w; ++ox) tile<1, kBlocks>(p, x, wb, block_floats, scale, shift, y, oy, ox, b);
    }
  }

  // `n` (<= kPixels) pixels of a row as one tile.
  template <uint32_t kPixels, uint32_t kBlocks>
  static void rest(uint32_t n, const shoal_conv2d_params* p, const float* x, const float* wb, size_t block_floats,
                   const float* scale, const float* shift, float* y, uint32_t oy, uint32_t ox, uint32_t b) {
    if constexpr (kPixels > 1) {
      if (n < kPixels) return rest<kPixels - 1, kBlocks>(n, p, x, wb, block_floats, scale, shift, y, oy, ox, b);
    }
    tile<kPixels, kBlocks>(p, x, wb, block_floats, scale, shift, y, oy, ox, b);
  }

  template <uint32_t kPixels, uint32_t kBlocks>
  static void tile(const shoal_conv2d_params* p, const float* x, const float* wb, size_t block_floats,
                   const float* scale, const float* shift, float* y, uint32_t oy, uint32_t ox, uint32_t b) {
    const shoal_window& k = p->win;
    const size_t tap_floats = size_t{p->w_in_stride} * kLanes;
    uint32_t c0[kBlocks], lane_lo[kBlocks], lane_hi[kBlocks];
    for (uint32_t j = 0; j < kBlocks; ++j) {
      c0[j] = (b + j) * kLanes;
      lane_lo[j] = p->out.lo > c0[j] ? p->out.lo - c0[j] : 0;
      lane_hi[j] = p->out.hi - c0[j] < kLanes ? p->out.hi - c0[j] : kLanes;
    }
    Reg acc[kBlocks][kPixels];
    for (uint32_t j = 0; j < kBlocks; ++j)
      for (uint32_t r = 0; r < kPixels; ++r) acc[j][r] = V::zero();
    for (uint32_t ky = 0; ky < k.kernel_h; ++ky) {
      const int64_t iy = int64_t{oy} * k.stride_h - k.pad_top + int64_t{ky} * k.dilation_h;
      if (iy < 0 || iy >= p->in.h) continue;
      const float* row = x + size_t(iy) * p->in.w * p->in.stride;
      for (uint32_t kx = 0; kx < k.kernel_w; ++kx) {
        // A pixel whose tap is in the padding reads zeros (pixels() only gives tiles with
        // such pixels when the zero row is long enough); a lone pixel just skips the tap.
        const float* xp[kPixels];
        bool any = false;
        for (uint32_t r = 0; r < kPixels; ++r) {
          const int64_t ix = int64_t{ox + r} * k.stride_w - k.pad_left + int64_t{kx} * k.dilation_w;
          const bool inside = ix >= 0 && ix < p->in.w;
          xp[r] = inside ? row + size_t(ix) * p->in.stride : zeros;
          any = any || inside;
        }
        if (!any) continue;
        const float* wt = wb + (size_t{ky} * k.kernel_w + kx) * tap_floats;
        if (p->depthwise) {
          for (uint32_t j = 0; j < kBlocks; ++j) {
            const Reg wv = V::load(wt + j * block_floats);
            for (uint32_t r = 0; r < kPixels; ++r) {
              acc[j][r] = V::fma(V::load_lanes(xp[r] + c0[j], lane_lo[j], lane_hi[j]), wv, acc[j][r]);
            }
          }
          continue;
        }
        for (uint32_t ci = p->in.lo; ci < p->in.hi; ++ci) {
          Reg wv[kBlocks];
          for (uint32_t j = 0; j < kBlocks; ++j) wv[j] = V::load(wt + j * block_floats + size_t{ci} * kLanes);
          for (uint32_t r = 0; r < kPixels; ++r) {
            const Reg xv = V::broadcast(xp[r][ci]);
            for (uint32_t j = 0; j < kBlocks; ++j) acc[j][r] = V::fma(xv, wv[j], acc[j][r]);
          }
        }
      }
    }
    for (uint32_t j = 0; j < kBlocks; ++j) {
      const Reg s = scale ? V::load_lanes(scale + c0[j], lane_lo[j], lane_hi[j]) : V::set1(1.0f);
      const Reg t = shift ? V::load_lanes(shift + c0[j], lane_lo[j], lane_hi[j]) : V::zero();
      for (uint32_t r = 0; r < kPixels; ++r) {
        Reg v = V::fma(acc[j][r], s, t);
        if (p->activation != SHOAL_ACT_NONE) v = V::max(v, V::zero());
        if (p->activation == SHOAL_ACT_RELU6) v = V::min(v, V::set1(6.0f));
        V::store_lanes(y + (size_t{oy} * p->out.w + ox + r) * p->out.stride + c0[j], v, lane_lo[j], lane_hi[j]);
      }
    }
  }
};

}  // namespace shoal::simd

#endif  // SHOAL_KERNELS_COMMON_CONV2D_OC_BLOCKS_H_
